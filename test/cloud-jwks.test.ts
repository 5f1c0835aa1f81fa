import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCloud, startCloud } from './testing/cloud.js';
import {
  connected,
  enrollWithCli,
  type LinkedAppliance,
  startLinkedAppliance,
} from './testing/link-appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

// The cloud's signing keys reach the connector over the link: an appliance with no JWKS of its
// own accepts a challenge minted by `POST /v1/admin/scep-challenges` (checked field by field,
// once), and refuses it the second time — the real scepclient enrolls through it.
describe('cloud JWKS pushed over the link verifies SCEP challenges', () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-cloud-jwks-'));
  const dataDir = join(work, 'appliance');
  let cloud: RunningCloud;
  let appliance: LinkedAppliance;

  beforeAll(async () => {
    cloud = await startCloud();
    const { applianceId } = await enrollWithCli(cloud, dataDir);
    appliance = await startLinkedAppliance(dataDir);
    await connected(cloud, applianceId);
    await appliance.waitForLog('cloud JWKS', { timeoutMs: 30_000 });
  }, 120_000);
  afterAll(async () => {
    await appliance?.stop();
    await cloud?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('enrolls with a cloud-minted challenge once, and refuses a replay or a mismatched subject', async () => {
    // scepclient's CSR subject: its -cn plus its -ou/-organization/-country (test/testing/scepclient.ts).
    const subject = 'CN=jws-device,OU=Devices,O=Example,C=US';
    const minted = await cloud.admin('POST', '/v1/admin/scep-challenges', { subject, keySize: 2048 });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const first = await scepclient(appliance.scepUrl, { cn: 'jws-device', challenge: minted.body.token });
    expect(first.code, first.stdout + first.stderr + appliance.logs()).toBe(0);
    expect(await openssl(['x509', '-in', first.certFile, '-noout', '-subject'])).toContain('CN = jws-device');

    const replay = await scepclient(appliance.scepUrl, { cn: 'jws-device', challenge: minted.body.token });
    expect(replay.code).not.toBe(0);

    const other = await cloud.admin('POST', '/v1/admin/scep-challenges', {
      subject: 'CN=someone-else,OU=Devices,O=Example,C=US',
    });
    const mismatch = await scepclient(appliance.scepUrl, { cn: 'jws-device', challenge: other.body.token });
    expect(mismatch.code).not.toBe(0);
  });
});
