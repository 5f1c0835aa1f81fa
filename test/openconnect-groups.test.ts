import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'scepclient');

// Per-group policy: a device whose certificate says OU=Devices (scepclient's -ou) gets the
// "devices" group's pool, DNS and routes instead of the gateway's defaults.
describe.skipIf(!isRoot())('openconnect with a per-group policy (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    app = await startGatewayAppliance(topology, {
      groups: {
        devices: {
          match: { groups: ['Devices'] },
          pool: { ipv4: '10.200.110.0/24' },
          dns: { servers: ['10.200.2.54'], domain: 'devices.corp.test' },
          routes: { include: ['10.200.2.0/25'] },
          timers: { idle: 900 },
        },
      },
      timers: { dpd: 5, keepalive: 30, idle: 600, session: 3600, cookie: 60, rekey: 4 },
    });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  it("applies the matching group's pool, DNS, routes and timers, and rekeys by new tunnel", async () => {
    const device = await enrollDevice(topology, app, 'group-member');
    const vpn = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
    try {
      expect(vpn.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.200\.110\.\d+$/);
      expect(vpn.env.INTERNAL_IP4_DNS).toBe('10.200.2.54');
      expect(vpn.env.CISCO_DEF_DOMAIN).toBe('devices.corp.test');
      expect(vpn.env.CISCO_SPLIT_INC_0_MASKLEN).toBe('25');
      expect(vpn.env.IDLE_TIMEOUT).toBe('900');
      const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(ping.stdout).toContain('2 received');
      const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      expect(listed[0].groups).toContain('Devices');

      // Rekey by new tunnel (X-CSTP-Rekey-Method: new-tunnel): the client reconnects with its
      // cookie, the session and its address stay, traffic flows again.
      const connects = () =>
        app
          .logs()
          .split('\n')
          .filter((l) => l.includes('tunnel connected')).length;
      const before = connects();
      for (let i = 0; i < 30 && connects() === before; i++) await new Promise((r) => setTimeout(r, 500));
      expect(connects(), vpn.output()).toBeGreaterThan(before);
      await new Promise((r) => setTimeout(r, 1000));
      const again = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(again.stdout).toContain('2 received');
      const after = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      expect(after).toEqual([
        expect.objectContaining({ id: listed[0].id, ipv4: listed[0].ipv4, state: 'connected' }),
      ]);
    } finally {
      await vpn.stop();
    }
  });
});
