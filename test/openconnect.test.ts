import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'curl');

// The real openconnect client, in its own network namespace, through Outpost's gateway into a
// "corporate" namespace; the device certificate is enrolled over SCEP from the same appliance.
describe.skipIf(!isRoot())('openconnect through the Outpost gateway (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    app = await startGatewayAppliance(topology);
    ({ certFile, keyFile } = await enrollDevice(topology, app, 'laptop-7'));
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  it('connects with a SCEP-enrolled certificate, gets the configured network, and moves traffic', async () => {
    const vpn = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', certFile, keyFile },
    });
    try {
      expect(vpn.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.200\.100\.\d+$/);
      expect(vpn.env.INTERNAL_IP4_NETMASK).toBe('255.255.255.0');
      expect(vpn.env.INTERNAL_IP4_DNS).toBe('10.200.2.53');
      expect(vpn.env.CISCO_DEF_DOMAIN).toBe('corp.test');
      expect(vpn.env.CISCO_SPLIT_INC).toBe('1');
      expect(vpn.env.CISCO_SPLIT_INC_0_ADDR).toBe('10.200.2.0');
      expect(vpn.env.CISCO_SPLIT_INC_0_MASKLEN).toBe('24');
      const ping = await topology.exec(topology.dev, 'ping', ['-c', '3', '-W', '2', '10.200.2.2']);
      expect(ping.stdout).toContain('3 received');

      const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      expect(listed).toEqual([
        expect.objectContaining({ user: 'laptop-7', method: 'certificate', state: 'connected' }),
      ]);
      expect(listed[0].bytesIn).toBeGreaterThan(0);

      const metrics = (await topology.exec(topology.gw, 'curl', ['-s', 'http://127.0.0.1:9090/metrics']))
        .stdout;
      expect(
        Number(/^outpost_gateway_received_packets_total (\d+)/m.exec(metrics)?.[1]),
      ).toBeGreaterThanOrEqual(3);
      expect(metrics).toMatch(/^outpost_gateway_sessions 1$/m);

      // Drain: the connected session stays, a new one is refused with a message, not a reset.
      expect((await app.cli(['sessions', 'drain', 'on'])).code).toBe(0);
      await expect(
        startOpenconnect(topology, {
          url: app.url,
          caFile: app.caFile,
          auth: { kind: 'certificate', certFile, keyFile },
          timeoutMs: 10_000,
        }),
      ).rejects.toThrow(/not accepting new sessions|exited/);
      expect((await app.cli(['sessions', 'drain', 'off'])).code).toBe(0);
      const stillThere = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      expect(stillThere.filter((s: { state: string }) => s.state === 'connected')).toHaveLength(1);

      const disconnected = await app.cli(['sessions', 'disconnect', '--user', 'laptop-7']);
      expect(disconnected.code, disconnected.stderr).toBe(0);
      const code = await new Promise<number | null>((resolve) => {
        if (vpn.child.exitCode !== null) resolve(vpn.child.exitCode);
        vpn.child.once('exit', resolve);
        setTimeout(() => resolve(-1), 15_000);
      });
      expect(code, vpn.output()).not.toBe(-1);
      expect(await app.cli(['sessions', 'list', '--json']).then((r) => JSON.parse(r.stdout))).toEqual([]);
    } finally {
      await vpn.stop();
    }
  });
});
