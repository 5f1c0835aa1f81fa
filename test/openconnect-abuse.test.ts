import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping');

const abuser = join(import.meta.dirname, 'testing', 'cstp-abuser.mjs');

// Misbehaving clients (garbage before and after CONNECT, garbage CSTP frames, oversized frames,
// slowloris, no TLS handshake) are cut off while a real openconnect client's transfer carries on;
// a frozen client is dropped by DPD and then resumes its session with the cookie, keeping its
// address.
describe.skipIf(!isRoot())('gateway under abuse, DPD and reconnect (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;
  let device: { certFile: string; keyFile: string };
  let vpn: OpenconnectSession;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    app = await startGatewayAppliance(topology);
    device = await enrollDevice(topology, app, 'sturdy-laptop');
    vpn = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
  }, 120_000);
  afterAll(async () => {
    await vpn?.stop();
    await app?.stop();
    await topology?.destroy();
  });

  it('cuts off each misbehaving client while another client transfers data intact', async () => {
    const transfer = checksumTransfer(topology, 16, 5002);
    const { stdout } = await topology.exec(
      topology.dev,
      process.execPath,
      [abuser, '10.200.1.1', '443', app.caFile, device.certFile, device.keyFile],
      90_000,
    );
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    for (const result of results) {
      expect(result.error, JSON.stringify(result)).toBeUndefined();
      expect(result.closedAfterMs, JSON.stringify(result)).toBeGreaterThanOrEqual(0);
      expect(result.closedAfterMs, JSON.stringify(result)).toBeLessThan(30_000);
    }
    expect(results.map((r) => r.scenario).sort()).toEqual([
      'TCP without a TLS handshake',
      'garbage after CONNECT',
      'garbage before CONNECT',
      'garbage frames',
      'oversized frame',
      'slowloris headers',
    ]);
    const { sent, received } = await transfer;
    expect(received).toBe(sent);
    const sessions = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
    expect(sessions.find((s: { user: string }) => s.user === 'sturdy-laptop')?.state).toBe('connected');
  }, 120_000);

  it('drops a frozen client after 3×DPD and lets it resume with its cookie and address', async () => {
    const address = vpn.env.INTERNAL_IP4_ADDRESS;
    process.kill(vpn.child.pid!, 'SIGSTOP'); // `ip netns exec` execs openconnect: same pid
    try {
      let state = 'connected';
      for (let i = 0; i < 40 && state === 'connected'; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const sessions = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
        state = sessions.find((s: { user: string }) => s.user === 'sturdy-laptop')?.state ?? 'gone';
      }
      expect(state).toBe('disconnected');
      expect(await app.logs()).toContain('DPD timeout');
    } finally {
      process.kill(vpn.child.pid!, 'SIGCONT');
    }
    const reconnectEnv = join(vpn.envDir, 'env.reconnect');
    for (let i = 0; i < 60; i++) {
      const sessions = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      if (
        sessions.find(
          (s: { user: string; state: string }) => s.user === 'sturdy-laptop' && s.state === 'connected',
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
    expect(ping.stdout).toContain('2 received');
    const env = readFileSync(reconnectEnv, 'utf8');
    expect(env).toContain(`INTERNAL_IP4_ADDRESS=${address}`);
  }, 120_000);
});
