import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { type RunningHaproxy, startHaproxy } from './testing/haproxy.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('haproxy', 'openconnect', 'scepclient', 'ip', 'sysctl', 'ping', 'curl');

/** A valid PROXY v2 header (TCP over IPv4, source 192.0.2.10:49152) and a malformed one (version 3). */
const SIGNATURE = '0d0a0d0a000d0a515549540a';
const CLAIMS_192_0_2_10 = `${SIGNATURE}2111000cc000020ac6336401c00001bb`;
const BAD_VERSION = `${SIGNATURE}3111000cc000020ac6336401c00001bb`;

/** Node one-liner: connect from `from` to the gateway, send `hex`, print how the connection ended. */
function sendHeaderScript(from: string, hex: string): string {
  return `const s=require('net').connect({host:'10.200.1.1',port:443,localAddress:'${from}'},()=>s.write(Buffer.from('${hex}','hex')));s.on('data',()=>{});s.on('error',()=>{});s.on('close',()=>console.log('closed'));setTimeout(()=>{console.log('open');process.exit(0)},3000).unref();`;
}

/**
 * The gateway behind the real HAProxy 2.6 in TCP mode with send-proxy-v2 (gateway.proxyProtocol):
 * openconnect clients from two namespaces connect through HAProxy, and the gateway sees, bans,
 * logs and lists each client's own address rather than the balancer's. A PROXY header from an
 * address that is not a trusted balancer, and a malformed header from one that is, are refused,
 * counted, and logged once.
 */
describe.skipIf(!isRoot())(
  'the gateway behind HAProxy send-proxy-v2 (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;
    let haproxy: RunningHaproxy;
    let dev2: string;
    const devices: Array<{ certFile: string; keyFile: string }> = [];

    beforeAll(async () => {
      topology = await VpnTopology.create();
      dev2 = await topology.addDevice(2);
      app = await startGatewayAppliance(
        topology,
        {
          proxyProtocol: true,
          // HAProxy runs in the gateway's namespace and connects from the gateway's own address.
          trustedProxies: ['10.200.1.1/32'],
        },
        // The probes where HAProxy's health check reaches them.
        { admin: { listen: '0.0.0.0:9090' } },
      );
      haproxy = await startHaproxy({
        namespace: topology.gw,
        frontends: [
          {
            name: 'vpn',
            mode: 'tcp',
            bind: '10.200.1.1:8443',
            sendProxyV2: true,
            servers: [
              { name: 'gw_a', address: '10.200.1.1:443', check: { port: 9090, path: '/healthz/gateway' } },
            ],
          },
        ],
      });
      devices.push(
        await enrollDevice(topology, app, 'laptop-1'),
        await enrollDevice(topology, app, 'laptop-2'),
      );
      await haproxy.waitForServers(['gw_a'], true);
    }, 120_000);

    afterAll(async () => {
      await haproxy?.stop();
      await app?.stop();
      await topology?.destroy();
    });

    it('lists each client with its own address, not the balancer’s, and moves traffic', async () => {
      const vpns: OpenconnectSession[] = [];
      try {
        for (const [i, ns] of [topology.dev, dev2].entries()) {
          vpns.push(
            await startOpenconnect(topology, {
              ns,
              url: 'https://10.200.1.1:8443/',
              caFile: app.caFile,
              auth: { kind: 'certificate', ...devices[i]! },
            }),
          );
        }
        for (const ns of [topology.dev, dev2]) {
          const ping = await topology.exec(ns, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
          expect(ping.stdout).toContain('2 received');
        }
        const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout) as Array<{
          user: string;
          remoteAddress: string;
        }>;
        expect(listed.map((s) => [s.user, s.remoteAddress]).sort()).toEqual([
          ['laptop-1', '10.200.1.2'],
          ['laptop-2', '10.200.3.2'],
        ]);
        expect(app.logs()).toMatch(/"remote":"10\.200\.3\.2".*"tunnel connected"/);
        // A session's lines carry its bindings (gateway/control/session-logger.ts).
        const connected = app
          .logs()
          .split('\n')
          .filter((l) => l.includes('"msg":"tunnel connected"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(connected).toContainEqual(
          expect.objectContaining({
            component: 'gateway',
            session: expect.any(String),
            user: 'laptop-2',
            remote: '10.200.3.2',
          }),
        );
      } finally {
        for (const vpn of vpns) await vpn.stop();
      }
    });

    it('refuses a header from an untrusted address and a malformed one, each logged once', async () => {
      for (let i = 0; i < 3; i++) {
        const untrusted = await topology.exec(topology.dev, process.execPath, [
          '-e',
          sendHeaderScript('10.200.1.2', CLAIMS_192_0_2_10),
        ]);
        expect(untrusted.stdout.trim()).toBe('closed');
        const malformed = await topology.exec(topology.gw, process.execPath, [
          '-e',
          sendHeaderScript('10.200.1.1', BAD_VERSION),
        ]);
        expect(malformed.stdout.trim()).toBe('closed');
      }
      const metrics = (await topology.exec(topology.gw, 'curl', ['-s', 'http://127.0.0.1:9090/metrics']))
        .stdout;
      expect(metrics).toMatch(/^outpost_gateway_proxy_refusals_total\{reason="untrusted-header"\} 3$/m);
      expect(metrics).toMatch(/^outpost_gateway_proxy_refusals_total\{reason="malformed"\} 3$/m);
      const lines = app
        .logs()
        .split('\n')
        .filter((l) => l.includes('refused at the PROXY header'));
      expect(lines.filter((l) => l.includes('"reason":"untrusted-header"'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('"reason":"malformed"'))).toHaveLength(1);
      expect(lines.join('\n')).toContain('"peer":"10.200.1.2"');
      // Nobody got the address the untrusted header claimed.
      expect(app.logs()).not.toContain('192.0.2.10');
    });

    it('drain: the balancer takes the node out, open tunnels go on; --migrate sends them to reconnect with their cookie', async () => {
      const health = async () => {
        const r = await topology.exec(topology.gw, 'curl', [
          '-s',
          '-w',
          ' %{http_code}',
          'http://127.0.0.1:9090/healthz/gateway',
        ]);
        const cut = r.stdout.lastIndexOf(' ');
        return {
          code: Number(r.stdout.slice(cut + 1)),
          body: JSON.parse(r.stdout.slice(0, cut)) as {
            healthy: boolean;
            reasons: string[];
            sessions: number;
          },
        };
      };
      expect(await health()).toMatchObject({ code: 200, body: { healthy: true, reasons: [] } });
      const vpn = await startOpenconnect(topology, {
        url: 'https://10.200.1.1:8443/',
        caFile: app.caFile,
        auth: { kind: 'certificate', ...devices[0]! },
      });
      try {
        const drained = JSON.parse((await app.cli(['sessions', 'drain', 'on', '--json'])).stdout);
        expect(drained).toEqual({ drain: true, migrated: 0 });
        expect(await health()).toMatchObject({
          code: 503,
          body: { healthy: false, reasons: ['draining'], sessions: 1 },
        });
        const ready = await topology.exec(topology.gw, 'curl', [
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          'http://127.0.0.1:9090/readyz',
        ]);
        expect(ready.stdout).toBe('503');
        await haproxy.waitForServers(['gw_a'], false);
        // The open tunnel carries on while the balancer sends nobody new.
        const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
        expect(ping.stdout).toContain('2 received');
        await expect(
          startOpenconnect(topology, {
            ns: dev2,
            url: 'https://10.200.1.1:8443/',
            caFile: app.caFile,
            auth: { kind: 'certificate', ...devices[1]! },
            extraArgs: ['--reconnect-timeout', '0'],
            timeoutMs: 8000,
          }),
        ).rejects.toThrow();

        // --migrate: the tunnel ends without TERMINATE; openconnect does not quit but retries with
        // its cookie, and gets in (same session, same address) once the node takes clients again.
        const address = vpn.env.INTERNAL_IP4_ADDRESS;
        const migrated = JSON.parse(
          (await app.cli(['sessions', 'drain', 'on', '--migrate', '--json'])).stdout,
        );
        expect(migrated).toEqual({ drain: true, migrated: 1 });
        await new Promise((r) => setTimeout(r, 1000));
        expect(vpn.child.exitCode, vpn.output()).toBeNull();
        expect(JSON.parse((await app.cli(['sessions', 'drain', 'off', '--json'])).stdout)).toEqual({
          drain: false,
          migrated: 0,
        });
        await haproxy.waitForServers(['gw_a'], true);
        const deadline = Date.now() + 30_000;
        while (!existsSync(join(vpn.envDir, 'env.reconnect')) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(existsSync(join(vpn.envDir, 'env.reconnect')), vpn.output()).toBe(true);
        const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout) as Array<{
          user: string;
          state: string;
          ipv4: string;
        }>;
        expect(listed.filter((s) => s.user === 'laptop-1')).toEqual([
          expect.objectContaining({ state: 'connected', ipv4: address }),
        ]);
        const ping2 = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
        expect(ping2.stdout).toContain('2 received');
      } finally {
        await app.cli(['sessions', 'drain', 'off']);
        await vpn.stop();
      }
    }, 90_000);
  },
);
