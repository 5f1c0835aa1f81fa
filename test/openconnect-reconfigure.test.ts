import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'curl');

// Live reconfiguration of the gateway with the real client: SIGHUP after an edit of the config
// file moves the listener, changes DNS, routes and timers for new tunnels, and leaves the open
// tunnel alone (it keeps moving traffic); an edit that needs a restart (the pool) is reported,
// not applied.
describe.skipIf(!isRoot())('openconnect across a live gateway reconfiguration (needs root)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    app = await startGatewayAppliance(topology);
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  function editGateway(edit: (gateway: Record<string, any>) => void): void {
    const tree = parse(readFileSync(app.configFile, 'utf8')) as Record<string, any>;
    edit(tree.gateway);
    writeFileSync(app.configFile, stringify(tree));
  }

  async function waitForLogCount(text: string, count: number): Promise<void> {
    const seen = () =>
      app
        .logs()
        .split('\n')
        .filter((l) => l.includes(text)).length;
    for (let i = 0; i < 100 && seen() < count; i++) await new Promise((r) => setTimeout(r, 200));
    expect(seen(), app.logs()).toBeGreaterThanOrEqual(count);
  }

  it('moves the listener and pushes new settings to new tunnels while the open one keeps going', async () => {
    const device = await enrollDevice(topology, app, 'reconfigured');
    const first = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
    try {
      expect(first.env.INTERNAL_IP4_DNS).toBe('10.200.2.53');
      editGateway((gw) => {
        gw.listen = '10.200.1.1:8443';
        gw.dns = { servers: ['10.200.2.99'], domain: 'new.corp.test', split: ['new.corp.test'] };
        gw.routes = { include: ['10.200.2.0/25'] };
        gw.timers.idle = 900;
        gw.pool = { ipv4: '10.200.120.0/24' };
      });
      app.signal('SIGHUP');
      await waitForLogCount('configuration applied', 1);
      const applied = app
        .logs()
        .split('\n')
        .find((l) => l.includes('configuration applied'))!;
      expect(JSON.parse(applied).pendingRestart).toEqual(['gateway.pool.ipv4']);

      const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(ping.stdout, first.output()).toContain('2 received');
      const old = await topology
        .exec(topology.dev, 'curl', ['-sk', '--max-time', '3', 'https://10.200.1.1:443/'])
        .then(
          () => 'answered',
          () => 'refused',
        );
      expect(old).toBe('refused');
    } finally {
      await first.stop();
    }

    const second = await startOpenconnect(topology, {
      url: 'https://10.200.1.1:8443/',
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
    try {
      expect(second.env.INTERNAL_IP4_DNS).toBe('10.200.2.99');
      expect(second.env.CISCO_DEF_DOMAIN).toBe('new.corp.test');
      expect(second.env.CISCO_SPLIT_INC_0_MASKLEN).toBe('25');
      expect(second.env.IDLE_TIMEOUT).toBe('900');
      // The pool waits for a restart: addresses still come from the running one.
      expect(second.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.200\.100\.\d+$/);
      const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(ping.stdout, second.output()).toContain('2 received');
    } finally {
      await second.stop();
    }
  });
});
