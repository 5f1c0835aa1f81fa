import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping');

// Dual stack: an IPv6 pool and an IPv6 split route next to the IPv4 ones; openconnect gets both
// addresses and reaches the corporate namespace over IPv6 through the tunnel.
describe.skipIf(!isRoot())('openconnect over IPv4 and IPv6 (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    await topology.addCorpIpv6();
    app = await startGatewayAppliance(topology, {
      pool: { ipv4: '10.200.100.0/24', ipv6: 'fd00:200::/112' },
      routes: { include: ['10.200.2.0/24', 'fd00:201::/64'] },
    });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  it('assigns an IPv6 address from the pool and carries IPv6 to the corporate network', async () => {
    const device = await enrollDevice(topology, app, 'dual-stack');
    const vpn = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
    try {
      expect(vpn.env.INTERNAL_IP6_ADDRESS).toMatch(/^fd00:200::[0-9a-f]+$/);
      expect(vpn.env.INTERNAL_IP6_NETMASK).toBe(`${vpn.env.INTERNAL_IP6_ADDRESS}/112`);
      expect(vpn.env.CISCO_IPV6_SPLIT_INC_0_ADDR).toBe('fd00:201::');
      expect(vpn.env.CISCO_IPV6_SPLIT_INC_0_MASKLEN).toBe('64');
      expect(vpn.env.CISCO_SPLIT_DNS).toBe('corp.test');
      const ping = await topology.exec(topology.dev, 'ping', ['-6', '-c', '2', '-W', '2', 'fd00:201::2']);
      expect(ping.stdout).toContain('2 received');
      const ping4 = await topology.exec(topology.dev, 'ping', ['-c', '1', '-W', '2', '10.200.2.2']);
      expect(ping4.stdout).toContain('1 received');
    } finally {
      await vpn.stop();
    }
  });
});
