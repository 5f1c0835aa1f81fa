import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requirePeers } from './testing/peers.js';

requirePeers('haproxy', 'docker-compose');

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CONFIG = 'deploy/haproxy/haproxy.cfg';

/**
 * The site's shipped balancer configuration: what the README shows is the file the compose file
 * mounts, HAProxy 2.6 accepts it, and the compose file's gateways trust that balancer's address.
 * The running site itself is test/haproxy-site.test.ts.
 */
describe('docker-compose.site.yml and deploy/haproxy/haproxy.cfg', () => {
  const cfg = readFileSync(join(ROOT, CONFIG), 'utf8');

  it('the README shows the HAProxy configuration as shipped', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`\n${cfg}\`\`\``);
  });

  it('HAProxy 2.6 accepts it: TCP, send-proxy-v2, health on /healthz/gateway, redispatch', async () => {
    const { stdout } = await run('haproxy', ['-c', '-f', join(ROOT, CONFIG)]);
    expect(stdout).toContain('Configuration file is valid');
    expect(cfg).toMatch(/^\s+mode tcp$/m);
    expect(cfg).toMatch(/default-server send-proxy-v2 check port 9090/);
    expect(cfg).toMatch(/http-check send meth GET uri \/healthz\/gateway/);
    expect(cfg).toMatch(/option redispatch/);
  });

  it('sends SCEP to both connectors: HTTP mode, round-robin, health on /readyz', () => {
    const backend = cfg.slice(cfg.indexOf('backend connectors'));
    expect(backend).toMatch(/^\s+mode http$/m);
    expect(backend).toMatch(/^\s+balance roundrobin$/m);
    expect(backend).toMatch(/http-check send meth GET uri \/readyz/);
    expect(backend).toMatch(/default-server check port 9090/);
    expect([...backend.matchAll(/^\s+server (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
      ['connector-a', 'connector-a:8080'],
      ['connector-b', 'connector-b:8080'],
    ]);
  });

  it('the compose file is valid; two connectors and two gateways on PostgreSQL behind the balancer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-site-compose-'));
    try {
      cpSync(join(ROOT, 'docker-compose.site.yml'), join(dir, 'docker-compose.site.yml'));
      mkdirSync(join(dir, 'site'));
      writeFileSync(join(dir, 'site', 'state-password'), 'x', { mode: 0o600 });
      const { stdout } = await run('docker-compose', ['-f', join(dir, 'docker-compose.site.yml'), 'config']);
      const compose = parse(stdout) as {
        services: Record<
          string,
          {
            environment?: Record<string, string>;
            networks?: Record<string, { ipv4_address?: string }>;
            depends_on?: Record<string, unknown>;
            volumes?: string[];
          }
        >;
      };
      const balancer = compose.services.haproxy!.networks!.site!.ipv4_address!;
      const gateways = ['gateway-a', 'gateway-b'].map((name) => compose.services[name]!.environment!);
      for (const env of gateways) {
        expect(parse(env.OUTPOST__gateway__trustedProxies!)).toEqual([balancer]);
        expect(env.OUTPOST__state__backend).toBe('postgres');
      }
      expect(new Set(gateways.map((env) => env.OUTPOST__gateway__pool__ipv4)).size).toBe(2);
      expect(new Set(gateways.map((env) => env.OUTPOST__gateway__nodeName)).size).toBe(2);

      // The connectors: one state database, one CA (the same volume), an admin socket each,
      // and the balancer in front of both.
      const connectors = ['connector-a', 'connector-b'].map((name) => compose.services[name]!);
      for (const c of connectors) {
        expect(c.environment!.OUTPOST__roles).toBe('[connector]');
        expect(c.environment!.OUTPOST__state__backend).toBe('postgres');
        expect(c.environment!.OUTPOST__state__postgres__url).toBe(gateways[0]!.OUTPOST__state__postgres__url);
        expect(c.volumes!.some((v) => v.endsWith(':/var/lib/outpost:rw'))).toBe(true);
      }
      expect(connectors[0]!.volumes![0]).toBe(connectors[1]!.volumes![0]);
      expect(new Set(connectors.map((c) => c.environment!.OUTPOST__admin__api__socket)).size).toBe(2);
      expect(Object.keys(compose.services.haproxy!.depends_on!)).toEqual(
        expect.arrayContaining(['connector-a', 'connector-b']),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
