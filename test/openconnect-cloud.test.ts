import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from './testing/appliance.js';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'curl');

const CLOUD = 'https://127.0.0.1:7443';

/**
 * The gateway driven by the cloud, end to end with real processes: `outpost cloud` and the
 * appliance run in the gw namespace, the real openconnect in dev. A gateway config pushed on the
 * admin API is applied without a restart (the next tunnel gets the new DNS), an invalid push is
 * rejected with its reason and changes nothing, and a `session.revoke` job ends the user's tunnel
 * and its cookie.
 */
describe.skipIf(!isRoot())('gateway configured and revoked through the cloud link (needs root)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;
  let cloudDir: string;
  let applianceId: string;

  /** The cloud's admin API, called from inside the gw namespace (where the cloud listens). */
  async function admin(method: string, path: string, body?: unknown): Promise<any> {
    const token = readFileSync(join(cloudDir, 'admin-token'), 'utf8').trim();
    const args = [
      '-s',
      '--cacert',
      join(cloudDir, 'ca.pem'),
      '-X',
      method,
      '-H',
      `authorization: Bearer ${token}`,
    ];
    if (body !== undefined)
      args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const { stdout } = await topology.exec(topology.gw, 'curl', [...args, `${CLOUD}${path}`]);
    return JSON.parse(stdout);
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${app?.logs() ?? ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    topology = await VpnTopology.create();
    cloudDir = mkdtempSync(join(tmpdir(), 'outpost-gw-cloud-'));
    topology.spawn(topology.gw, process.execPath, [
      cliPath,
      'cloud',
      '--listen',
      '127.0.0.1:7443',
      '--data-dir',
      cloudDir,
    ]);
    await until('the cloud', async () => {
      await topology.exec(topology.gw, 'curl', [
        '-sf',
        '--cacert',
        join(cloudDir, 'ca.pem'),
        `${CLOUD}/healthz`,
      ]);
      return true;
    });
    const { token } = await admin('POST', '/v1/admin/enrollment-tokens', {});
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-gw-linked-'));
    await topology.exec(topology.gw, process.execPath, [
      cliPath,
      'enroll',
      '--cloud',
      CLOUD,
      '--token',
      token,
      '--role',
      'both',
      '--cloud-ca',
      join(cloudDir, 'ca.pem'),
      '--data-dir',
      dataDir,
    ]);
    applianceId = JSON.parse(readFileSync(join(dataDir, 'link', 'link.json'), 'utf8')).applianceId;
    app = await startGatewayAppliance(topology, {}, {}, { dataDir });
    await until('the link', async () =>
      (await admin('GET', `/v1/admin/appliances/${applianceId}`)).connected ? true : undefined,
    );
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
    if (cloudDir) rmSync(cloudDir, { recursive: true, force: true });
  });

  it('applies a pushed gateway config live, rejects an invalid one, and revokes a session by job', async () => {
    const pushed = {
      dns: { servers: ['10.200.2.77'], domain: 'pushed.corp.test', split: ['pushed.corp.test'] },
    };
    await admin('PUT', `/v1/admin/appliances/${applianceId}/config`, { gateway: pushed });
    const applied = await until('config applied', async () => {
      const a = await admin('GET', `/v1/admin/appliances/${applianceId}`);
      return a.config.appliedVersion !== null ? a.config : undefined;
    });

    await admin('PUT', `/v1/admin/appliances/${applianceId}/config`, {
      gateway: { timers: { dpd: 'soon' } },
    });
    const rejected = await until('config rejected', async () => {
      const a = await admin('GET', `/v1/admin/appliances/${applianceId}`);
      return a.config.rejected ?? undefined;
    });
    expect(rejected.reason).toContain('gateway.timers.dpd');
    expect((await admin('GET', `/v1/admin/appliances/${applianceId}`)).config.appliedVersion).toBe(
      applied.appliedVersion,
    );

    const device = await enrollDevice(topology, app, 'cloud-user');
    const vpn = await startOpenconnect(topology, {
      url: app.url,
      caFile: app.caFile,
      auth: { kind: 'certificate', ...device },
    });
    try {
      expect(vpn.env.INTERNAL_IP4_DNS).toBe('10.200.2.77');
      expect(vpn.env.CISCO_DEF_DOMAIN).toBe('pushed.corp.test');
      const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(ping.stdout).toContain('2 received');

      const { id } = await admin('POST', '/v1/admin/jobs', {
        kind: 'session.revoke',
        target: { role: 'gateway' },
        payload: { user: 'cloud-user' },
      });
      const job = await until('session.revoke done', async () => {
        const j = await admin('GET', `/v1/admin/jobs/${id}`);
        return j.status === 'done' || j.status === 'failed' ? j : undefined;
      });
      expect(job).toMatchObject({ status: 'done', result: { disconnected: 1 } });
      const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
      expect(listed).toEqual([]);
      expect(app.logs()).toContain('revoked by the cloud');
    } finally {
      await vpn.stop();
    }
  });
});
