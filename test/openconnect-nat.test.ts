import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'nft');

// NAT mode: the corporate network has no route back to the VPN pool, so replies only come back
// because the gateway masquerades the pool (nftables table "outpost") behind its own address.
describe.skipIf(!isRoot())(
  'openconnect through the gateway in NAT mode (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;

    beforeAll(async () => {
      topology = await VpnTopology.create();
      await topology.exec(topology.corp, 'ip', ['route', 'del', 'default']);
      app = await startGatewayAppliance(topology, { nat: true });
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await topology?.destroy();
    });

    it('reaches a host that has no route to the pool, and removes its rules on shutdown', async () => {
      const device = await enrollDevice(topology, app, 'nat-device');
      const vpn = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'certificate', ...device },
      });
      try {
        const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
        expect(ping.stdout).toContain('2 received');
        const rules = (await topology.exec(topology.gw, 'nft', ['list', 'table', 'ip', 'outpost'])).stdout;
        expect(rules).toContain('masquerade');
      } finally {
        await vpn.stop();
      }
      await app.stop();
      const after = await topology.exec(topology.gw, 'nft', ['list', 'tables']);
      expect(after.stdout).not.toContain('outpost');
    });
  },
);
