import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caExtensions, TestPki } from '../certs/testing/test-pki.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { type RunningHaproxy, startHaproxy } from './testing/haproxy.js';
import { isRoot } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from './testing/postgres.js';
import { SiteTopology } from './testing/site-topology.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers(
  'haproxy',
  'openconnect',
  'ip',
  'sysctl',
  'ping',
  'curl',
  'nft',
  'openssl',
  ...postgresPrograms(),
);

const BLOCKS = { a: '10.210.100.0/25', b: '10.210.100.128/25' } as const;

interface ListedSession {
  id: string;
  createdAt: string;
  user: string;
  state: string;
  remoteAddress: string;
  ipv4: string | null;
}

/**
 * A site of two gateways behind the real HAProxy 2.6 (TCP mode, send-proxy-v2, health checks on
 * /healthz/gateway, option redispatch) sharing sessions, cookies and bans in a PostgreSQL 15 the
 * test starts, with openconnect clients in two namespaces: real client addresses on both nodes,
 * a ban made on one node holding on the other, drain (new clients to the other node while open
 * tunnels carry on), drain --migrate and SIGKILL of a node (each openconnect reconnects with its
 * cookie, no new login, same address, traffic flows), and a disconnect issued on the node that
 * does not run the session.
 */
describe.skipIf(!isRoot())(
  'a gateway site behind HAProxy with PostgreSQL (needs root: network namespaces)',
  () => {
    let topology: SiteTopology;
    let postgres: RunningPostgres;
    let haproxy: RunningHaproxy;
    let pki: TestPki;
    const nodes: { a?: GatewayAppliance; b?: GatewayAppliance } = {};
    const dataDirs = { a: '', b: '' };
    const vpns: OpenconnectSession[] = [];
    let stateUrl = '';

    const gatewayOf = (name: 'a' | 'b') => ({
      gw: name === 'a' ? topology.gwa : topology.gwb,
      spawn: topology.spawn.bind(topology),
      exec: topology.exec.bind(topology),
    });

    function startNode(name: 'a' | 'b'): Promise<GatewayAppliance> {
      return startGatewayAppliance(
        gatewayOf(name),
        {
          listen: '0.0.0.0:443',
          nodeName: `gw-${name}`,
          tls: { cert: pki.path('server.pem'), key: pki.path('server.key') },
          pool: { ipv4: BLOCKS[name] },
          routes: { include: ['10.210.9.0/24'] },
          nat: true,
          auth: { methods: ['certificate'], certificate: { ca: pki.path('ca.pem'), usernameFrom: 'cn' } },
          proxyProtocol: true,
          trustedProxies: SiteTopology.nodes.map((n) => n.balancerSide),
        },
        {
          roles: ['gateway'],
          admin: { listen: '0.0.0.0:9090' },
          connector: { scep: { listen: '127.0.0.1:8080', workers: 1 } },
          state: { backend: 'postgres', postgres: { url: stateUrl, passwordFile: postgres.passwordFile } },
        },
        { dataDir: dataDirs[name] },
      );
    }

    const node = (name: 'a' | 'b') => nodes[name]!;
    const listed = async (name: 'a' | 'b'): Promise<ListedSession[]> =>
      JSON.parse((await node(name).cli(['sessions', 'list', '--json'])).stdout);
    const connectedUsers = async (name: 'a' | 'b') =>
      (await listed(name))
        .filter((s) => s.state === 'connected')
        .map((s) => s.user)
        .sort();
    const drain = async (name: 'a' | 'b', ...args: string[]) => {
      const r = await node(name).cli(['sessions', 'drain', ...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      await haproxy.waitForServers([`gw_${name}`], args[0] === 'off');
      return JSON.parse(r.stdout) as { drain: boolean; migrated: number };
    };
    const device = (i: 0 | 1) => ({
      ns: i === 0 ? topology.dev1 : topology.dev2,
      url: `https://${SiteTopology.clients[i].balancer}/`,
      cert: `--cert ${pki.path(`laptop-${i + 1}.pem`)} --key ${pki.path(`laptop-${i + 1}.key`)}`,
    });
    /** A login over HTTPS through the balancer (curl): the HTTP status. */
    const login = async (i: 0 | 1, withCertificate: boolean) => {
      const d = device(i);
      const args = ['-sk', '-o', '/dev/null', '-w', '%{http_code}'];
      if (withCertificate) args.push(...d.cert.split(' '));
      return (await topology.exec(d.ns, 'curl', [...args, d.url])).stdout.trim();
    };
    const connect = async (i: 0 | 1) => {
      const d = device(i);
      const vpn = await startOpenconnect(
        { spawn: topology.spawn.bind(topology), dev: d.ns },
        {
          ns: d.ns,
          url: d.url,
          caFile: pki.path('ca.pem'),
          auth: {
            kind: 'certificate',
            certFile: pki.path(`laptop-${i + 1}.pem`),
            keyFile: pki.path(`laptop-${i + 1}.key`),
          },
        },
      );
      vpns[i] = vpn;
      return vpn;
    };
    const ping = async (i: 0 | 1) =>
      (await topology.exec(device(i).ns, 'ping', ['-c', '2', '-W', '2', SiteTopology.corpServer])).stdout;
    /** Waits for openconnect's next `reconnect` script run (after `since` was cleared). */
    const reconnected = async (i: 0 | 1) => {
      const file = join(vpns[i]!.envDir, 'env.reconnect');
      const deadline = Date.now() + 30_000;
      while (!existsSync(file) && Date.now() < deadline) {
        if (vpns[i]!.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(existsSync(file), vpns[i]!.output()).toBe(true);
      const env = readFileSync(file, 'utf8');
      rmSync(file);
      return /^INTERNAL_IP4_ADDRESS=(.*)$/m.exec(env)?.[1];
    };
    const logins = (name: 'a' | 'b', user: string) =>
      node(name)
        .logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"authenticated"') && l.includes(`"user":"${user}"`)).length;

    beforeAll(async () => {
      pki = new TestPki({ prefix: 'outpost-site-pki-' });
      pki.selfSigned('ca', { subject: '/CN=Site Test CA', extensions: caExtensions });
      pki.issue('server', {
        issuer: 'ca',
        subject: '/CN=vpn.site.test',
        extensions: ['subjectAltName=IP:10.210.1.1,IP:10.210.2.1', 'extendedKeyUsage=serverAuth'],
      });
      for (const n of [1, 2]) {
        pki.issue(`laptop-${n}`, {
          issuer: 'ca',
          subject: `/OU=Devices/CN=laptop-${n}`,
          extensions: ['extendedKeyUsage=clientAuth'],
        });
      }
      postgres = await startPostgres();
      await postgres.createDatabase('site');
      stateUrl = `postgres://${postgres.user}@${encodeURIComponent(postgres.socketDir)}:${postgres.port}/site`;
      topology = await SiteTopology.create();
      dataDirs.a = mkdtempSync(join(tmpdir(), 'outpost-site-a-'));
      dataDirs.b = mkdtempSync(join(tmpdir(), 'outpost-site-b-'));
      [nodes.a, nodes.b] = await Promise.all([startNode('a'), startNode('b')]);
      haproxy = await startHaproxy({
        namespace: topology.lb,
        checkIntervalMs: 300,
        frontends: [
          {
            name: 'vpn',
            mode: 'tcp',
            bind: '0.0.0.0:443',
            sendProxyV2: true,
            redispatch: true,
            servers: (['a', 'b'] as const).map((name, i) => ({
              name: `gw_${name}`,
              address: `${SiteTopology.nodes[i]!.address}:443`,
              check: { port: 9090, path: '/healthz/gateway' },
            })),
          },
        ],
      });
      await haproxy.waitForServers(['gw_a', 'gw_b'], true);
    }, 90_000);

    afterAll(async () => {
      for (const vpn of vpns) await vpn?.stop();
      await haproxy?.stop();
      await nodes.a?.stop();
      await nodes.b?.stop();
      await topology?.destroy();
      await postgres?.stop();
      pki?.cleanup();
    });

    it('each node lists its clients with their own addresses (laptop-1 on A, laptop-2 on B)', async () => {
      // Placed by draining the other node, so the rest of the test knows where each tunnel runs.
      await drain('b', 'on');
      await connect(0);
      await drain('b', 'off');
      await drain('a', 'on');
      await connect(1);
      await drain('a', 'off');
      const [onA, onB] = [await listed('a'), await listed('b')];
      expect(onA.filter((s) => s.state === 'connected').map((s) => [s.user, s.remoteAddress])).toEqual([
        ['laptop-1', '10.210.1.2'],
      ]);
      expect(onB.filter((s) => s.state === 'connected').map((s) => [s.user, s.remoteAddress])).toEqual([
        ['laptop-2', '10.210.2.2'],
      ]);
      expect(vpns[0]!.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.210\.100\.([1-9]|[1-9]\d|1[01]\d|12[0-6])$/);
      expect(await ping(0)).toContain('2 received');
      expect(await ping(1)).toContain('2 received');
    });

    it('failed logins from one address ban it on both nodes; the other client still gets in; unban on either lifts it', async () => {
      const statuses: string[] = [];
      for (let i = 0; i < 24 && statuses.at(-1) !== '403'; i++) {
        statuses.push(await login(0, false));
        // Near the ban (8 failures per node, alternating), slower than the 500 ms event poll: the
        // node that did not ban must have taken in the other's ban before its own 8th failure.
        await new Promise((r) => setTimeout(r, i >= 12 ? 700 : 100));
      }
      expect(statuses.at(-1), statuses.join(' ')).toBe('403');
      await new Promise((r) => setTimeout(r, 1000));
      for (const name of ['a', 'b'] as const) {
        const bans = JSON.parse((await node(name).cli(['sessions', 'bans', '--json'])).stdout);
        expect(bans.map((b: { address: string }) => b.address)).toEqual(['10.210.1.2']);
      }
      // One node reached the score and banned; the other applied its ban without scoring it.
      const banned = (['a', 'b'] as const).filter((name) =>
        /"remote":"10\.210\.1\.2".*address banned after failed attempts/.test(node(name).logs()),
      );
      expect(banned).toHaveLength(1);
      expect(await login(0, true)).toBe('403');
      expect(await login(1, true)).toBe('200');
      const other = banned[0] === 'a' ? 'b' : 'a';
      expect((await node(other).cli(['sessions', 'unban', '10.210.1.2'])).code).toBe(0);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await login(0, true)).toBe('200');
      expect(await login(0, true)).toBe('200');
    });

    it('drain A: new clients land on B, while A’s open tunnel keeps passing a checksummed transfer', async () => {
      expect(await drain('a', 'on')).toEqual({ drain: true, migrated: 0 });
      const since = new Date().toISOString();
      for (const i of [0, 1, 0, 1] as const) expect(await login(i, true)).toBe('200');
      const newer = async (name: 'a' | 'b') =>
        (await listed(name))
          .filter((s) => s.createdAt > since)
          .map((s) => s.user)
          .sort();
      expect(await newer('a')).toEqual([]);
      expect(await newer('b')).toEqual(['laptop-1', 'laptop-1', 'laptop-2', 'laptop-2']);
      const { sent, received } = await checksumTransfer(
        {
          spawn: topology.spawn.bind(topology),
          exec: topology.exec.bind(topology),
          dev: topology.dev1,
          corp: topology.corp,
        },
        4,
        5001,
        topology.dev1,
        SiteTopology.corpServer,
      );
      expect(received).toBe(sent);
      expect(await connectedUsers('a')).toEqual(['laptop-1']);
    });

    it('drain A --migrate: its tunnel reconnects with its cookie, through HAProxy, to B: same address, no new login', async () => {
      const address = vpns[0]!.env.INTERNAL_IP4_ADDRESS;
      const loginsBefore = logins('a', 'laptop-1') + logins('b', 'laptop-1');
      expect(await drain('a', 'on', '--migrate')).toEqual({ drain: true, migrated: 1 });
      expect(await reconnected(0)).toBe(address);
      expect(await connectedUsers('b')).toEqual(['laptop-1', 'laptop-2']);
      expect(logins('a', 'laptop-1') + logins('b', 'laptop-1')).toBe(loginsBefore);
      expect(await ping(0)).toContain('2 received');
      await drain('a', 'off');
    });

    it('SIGKILL B: each openconnect reconnects to A with its cookie, keeps its address, and traffic flows', async () => {
      const addresses = [vpns[0]!.env.INTERNAL_IP4_ADDRESS, vpns[1]!.env.INTERNAL_IP4_ADDRESS];
      const loginsBefore = logins('a', 'laptop-1') + logins('a', 'laptop-2');
      node('b').signal('SIGKILL');
      expect(await reconnected(0)).toBe(addresses[0]);
      expect(await reconnected(1)).toBe(addresses[1]);
      expect(await connectedUsers('a')).toEqual(['laptop-1', 'laptop-2']);
      expect(logins('a', 'laptop-1') + logins('a', 'laptop-2')).toBe(loginsBefore);
      expect(node('a').logs()).toMatch(/"user":"laptop-2","from":"gw-b".*"session resumed from the site"/);
      expect(await ping(0)).toContain('2 received');
      expect(await ping(1)).toContain('2 received');
    });

    it('B back: a disconnect issued on B ends laptop-1’s session running on A', async () => {
      nodes.b = await startNode('b');
      const r = await node('b').cli(['sessions', 'disconnect', '--user', 'laptop-1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ disconnected: expect.any(Number) });
      const exited = await new Promise<number | null>((resolve) => {
        if (vpns[0]!.child.exitCode !== null) return resolve(vpns[0]!.child.exitCode);
        vpns[0]!.child.once('exit', resolve);
        setTimeout(() => resolve(-1), 10_000);
      });
      expect(exited, vpns[0]!.output()).not.toBe(-1);
      expect(vpns[0]!.output()).toMatch(/disconnected by an administrator/);
      expect(await connectedUsers('a')).toEqual(['laptop-2']);
      expect(await ping(1)).toContain('2 received');
    });
  },
);
