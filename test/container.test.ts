import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerLan } from './testing/container-lan.js';
import { DockerEngine } from './testing/docker-engine.js';
import { isRoot } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers(
  'dockerd',
  'docker-compose',
  'debootstrap',
  'openconnect',
  'scepclient',
  'openssl',
  'ip',
  'iptables',
  'nft',
);

/**
 * The shipped image, built and run the way the README's container section says, on Debian's own
 * Docker engine started by the test (test/testing/docker-engine.ts: no firewall changes, its own
 * data root) with a local stand-in for the Node base image (scripts/container-base-image.sh: no
 * image registry is reachable here). Both roles come up from the compose file as shipped.
 */
const repo = resolve(import.meta.dirname, '..');
const PUBLIC_HOST = 'vpn.outpost.test';
const PROJECT = 'outposttest';
const BASE_IMAGE = 'outpost-test-base:local';

/** What the host's firewall looks like; the engine must leave it exactly so. */
function firewall(): string {
  const iptables = execFileSync('iptables', ['-S'], { encoding: 'utf8' });
  const nft = execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
  return `${iptables}\n${nft}`;
}

async function waitFor200(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (response.status === 200) return response;
      last = `${response.status} ${await response.text()}`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`${url} not 200 within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe.skipIf(!isRoot())(
  'the container image: both roles from the compose file, real Docker engine',
  () => {
    const work = mkdtempSync(join(tmpdir(), 'outpost-container-'));
    let firewallBefore: string | undefined;
    let engine: DockerEngine | undefined;
    let lan: ContainerLan | undefined;
    let session: OpenconnectSession | undefined;
    const timings: Record<string, number> = {};
    const compose = (args: string[], timeoutMs = 120_000) =>
      engine!.must(
        '/usr/bin/docker-compose',
        ['-p', PROJECT, '-f', join(repo, 'docker-compose.yml'), ...args],
        timeoutMs,
      );
    const exec = (args: string[]) => compose(['exec', '-T', 'outpost', 'outpost', ...args]);

    beforeAll(async () => {
      firewallBefore = firewall();
      engine = await DockerEngine.start(join(work, 'engine'));
      let started = Date.now();
      execFileSync(join(repo, 'scripts', 'container-base-image.sh'), [join(work, 'base'), BASE_IMAGE], {
        env: engine.env,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 600_000,
      });
      timings.baseImageSeconds = (Date.now() - started) / 1000;
      rmSync(join(work, 'base'), { recursive: true, force: true });
      // The README's build, with the site's base image and (if its proxy re-signs TLS) its CA for npm.
      started = Date.now();
      const extraCa = execFileSync(
        'sh',
        ['-c', 'cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true'],
        {
          encoding: 'utf8',
        },
      );
      await engine.must(
        '/usr/bin/docker',
        [
          'build',
          '--network',
          'host',
          '--build-arg',
          `NODE_IMAGE=${BASE_IMAGE}`,
          ...(extraCa.trim() ? ['--build-arg', `NPM_EXTRA_CA=${extraCa}`] : []),
          '-t',
          'outpost:latest',
          repo,
        ],
        900_000,
      );
      timings.coldBuildSeconds = (Date.now() - started) / 1000;
      const size = await engine.must('/usr/bin/docker', [
        'image',
        'inspect',
        'outpost:latest',
        '--format',
        '{{.Size}}',
      ]);
      timings.imageMegabytes = Math.round(Number(size.trim()) / 1e6);

      engine.env.OUTPOST_PUBLIC_HOST = PUBLIC_HOST;
      started = Date.now();
      await compose(['--profile', 'gateway', 'up', '-d', '--no-build'], 300_000);
      await waitFor200('http://127.0.0.1:9090/readyz', 90_000);
      await waitFor200('http://127.0.0.1:9091/readyz', 90_000);
      timings.upSeconds = (Date.now() - started) / 1000;
    }, 1_500_000);

    afterAll(async () => {
      await session?.stop();
      await lan?.destroy();
      if (engine) {
        await run(
          '/usr/bin/docker-compose',
          ['-p', PROJECT, '-f', join(repo, 'docker-compose.yml'), '--profile', 'gateway', 'down', '-v'],
          {
            env: engine.env,
            timeoutMs: 120_000,
          },
        );
        await engine.stop();
      }
      rmSync(work, { recursive: true, force: true });
      console.log(`container: ${JSON.stringify(timings)}`);
      // The engine ran without iptables: the host's firewall (FORWARD policy included) is untouched.
      if (firewallBefore !== undefined) expect(firewall()).toBe(firewallBefore);
    }, 300_000);

    it('answers /healthz and /readyz on the published probe ports, both roles', async () => {
      for (const port of [9090, 9091]) {
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        const ready = (await (await waitFor200(`http://127.0.0.1:${port}/readyz`, 10_000)).json()) as {
          status: string;
        };
        expect(ready.status).toBe('ready');
      }
      const gateway = (await (await fetch('http://127.0.0.1:9091/readyz')).json()) as {
        checks: Record<string, { ok: boolean; detail?: string }>;
      };
      expect(gateway.checks['gateway-certificate']).toMatchObject({ ok: true });
    });

    it('ships ip and nft, only better_sqlite3.node of its build, and no trace of the build-time CA', async () => {
      const inside = await engine!.must('/usr/bin/docker', [
        'run',
        '--rm',
        '--entrypoint',
        'sh',
        'outpost:latest',
        '-c',
        'command -v ip; command -v nft; find /app/node_modules/better-sqlite3 -name "*.node" -o -name "*.o" -o -name "*.c" | sort; ls /tmp',
      ]);
      expect(inside.trim().split('\n')).toEqual([
        '/usr/sbin/ip',
        '/usr/sbin/nft',
        '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      ]);
      // NPM_EXTRA_CA is an argument of the build stage only: the runtime image's history lacks it.
      const history = await engine!.must('/usr/bin/docker', ['history', '--no-trunc', 'outpost:latest']);
      expect(history).not.toMatch(/NPM_EXTRA_CA|BEGIN CERTIFICATE/);
    });

    let device: { certFile: string; keyFile: string; serial: string } | undefined;
    const caFile = join(work, 'ca.pem');

    it('enrolls with scepclient on a challenge minted by `compose exec -T`; openssl verifies it', async () => {
      const challenge = (await exec(['scep', 'challenge'])).trim();
      expect(challenge).toMatch(/^\S{16,}$/);
      writeFileSync(caFile, await exec(['ca', 'show', '--pem']));
      const enrolled = await scepclient('http://127.0.0.1:8080/scep', {
        cn: 'device-1',
        challenge,
        dir: work,
      });
      expect(enrolled.code, enrolled.stderr).toBe(0);
      expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toMatch(/: OK/);
      const text = await openssl(['x509', '-in', enrolled.certFile, '-noout', '-text', '-serial']);
      // The CRL and OCSP URLs name the public host, not the container ID.
      expect(text).toContain(`URI:http://${PUBLIC_HOST}:8080/crl/`);
      device = {
        certFile: enrolled.certFile,
        keyFile: enrolled.keyFile,
        serial: /serial=([0-9A-F]+)/.exec(text)![1]!.toLowerCase(),
      };
    });

    it('openconnect in a namespace connects with that certificate and moves a checksummed transfer to corp', async () => {
      expect(device).toBeDefined();
      const network = JSON.parse(
        await engine!.must('/usr/bin/docker', ['network', 'inspect', `${PROJECT}_default`]),
      ) as { Id: string; IPAM: { Config: { Subnet: string }[] } }[];
      const [base, prefix] = network[0]!.IPAM.Config[0]!.Subnet.split('/');
      const corpAddress = base!.replace(/\.0$/, '.250');
      lan = await ContainerLan.create(
        `br-${network[0]!.Id.slice(0, 12)}`,
        corpAddress,
        Number(prefix),
        PUBLIC_HOST,
      );
      // The gateway certificate must carry the public host name: openconnect checks it against the URL.
      session = await startOpenconnect(lan, {
        url: `https://${PUBLIC_HOST}:443`,
        caFile,
        auth: { kind: 'certificate', certFile: device!.certFile, keyFile: device!.keyFile },
      });
      const transfer = await checksumTransfer(lan, 8, 5001, lan.dev, corpAddress);
      expect(transfer.received).toBe(transfer.sent);
      expect(await session.stop()).not.toBeNull();
      session = undefined;
    });

    it('keeps the CA and the inventory across `docker compose restart`', async () => {
      const caBefore = readFileSync(caFile, 'utf8');
      await compose(['--profile', 'gateway', 'restart'], 120_000);
      await waitFor200('http://127.0.0.1:9090/readyz', 90_000);
      await waitFor200('http://127.0.0.1:9091/readyz', 90_000);
      expect(await exec(['ca', 'show', '--pem'])).toBe(caBefore);
      const list = JSON.parse(await exec(['certs', 'list', '--json'])) as {
        serialHex?: string;
        serial?: string;
      }[];
      expect(JSON.stringify(list).toLowerCase()).toContain(device!.serial);
    });

    it('keeps every file on the volume private to uid 10001 (0600 files, 0700 directories)', async () => {
      const listing = await engine!.must('/usr/bin/docker', [
        'run',
        '--rm',
        '--user',
        '0',
        '--entrypoint',
        'find',
        '-v',
        `${PROJECT}_outpost-data:/data`,
        'outpost:latest',
        '/data',
        '-printf',
        '%U %y %m %P\\n',
      ]);
      const entries = listing.trim().split('\n');
      expect(entries.length).toBeGreaterThan(3);
      for (const line of entries) {
        const [uid, type, mode, path] = line.split(' ');
        expect({ path, uid }).toEqual({ path, uid: '10001' });
        if (type === 'd') expect({ path, mode }).toEqual({ path, mode: '700' });
        else if (type === 'f') expect({ path, mode }).toEqual({ path, mode: '600' });
      }
    });

    it('stops cleanly: `docker-compose stop` (SIGTERM, SIGKILL after 10 s) ends both roles with status 0', async () => {
      const ids = await Promise.all(
        ['outpost', 'gateway'].map(async (s) => (await compose(['ps', '-q', s])).trim()),
      );
      const started = Date.now();
      await compose(['--profile', 'gateway', 'stop'], 60_000);
      timings.stopSeconds = (Date.now() - started) / 1000;
      // A process still running after the 10 s would be killed and exit 137: 0 means it stopped in time.
      for (const [i, service] of ['outpost', 'gateway'].entries()) {
        const status = (
          await engine!.must('/usr/bin/docker', ['inspect', ids[i]!, '--format', '{{.State.ExitCode}}'])
        ).trim();
        expect({ service, status }).toEqual({ service, status: '0' });
      }
    });
  },
);
