import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './support/appliance.js';
import { openssl } from './support/run.js';
import { scepclient } from './support/scepclient.js';

// Interop with the real micromdm scepclient 2.1.0 (Debian `scep`): DES-CBC + SHA-1 requests,
// URL-safe GETs or POSTs, RenewalReq signed with the issued certificate.
describe('micromdm scepclient against outpost', () => {
  let app: RunningAppliance;
  let caFile: string;

  beforeAll(async () => {
    app = await startAppliance();
    caFile = join(app.dataDir, 'ca', 'ca.pem');
  });
  afterAll(async () => app?.stop());

  async function mintChallenge(): Promise<string> {
    const result = await app.cli(['scep', 'challenge', '--ttl', '600']);
    expect(result.code, result.stderr).toBe(0);
    const challenge = result.stdout.trim();
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    return challenge;
  }

  it('enrolls with a one-time challenge, and openssl verifies the certificate', async () => {
    const challenge = await mintChallenge();
    const enrolled = await scepclient(app.scepUrl, { cn: 'device-one', challenge });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
    const text = await openssl(['x509', '-in', enrolled.certFile, '-noout', '-text']);
    expect(text).toMatch(/Subject: C\s*=\s*US, O\s*=\s*Example, OU\s*=\s*Devices, CN\s*=\s*device-one/);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toContain('/crl/ca.crl');

    const listed = await app.cli(['certs', 'list', '--json']);
    const serial = (await openssl(['x509', '-in', enrolled.certFile, '-noout', '-serial']))
      .trim()
      .split('=')[1]!;
    const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
    expect(JSON.parse(listed.stdout).map((c: { serialHex: string }) => norm(c.serialHex))).toContain(
      norm(serial),
    );

    // RenewalReq: the same directory holds cert.pem, so scepclient signs with it (no challenge).
    const before = readFileSync(enrolled.certFile, 'utf8');
    const renewed = await scepclient(app.scepUrl, { cn: 'device-one', dir: enrolled.dir });
    expect(renewed.code, renewed.stderr).toBe(0);
    const after = readFileSync(enrolled.certFile, 'utf8');
    expect(after).not.toBe(before);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
  });

  it('refuses a reused challenge with failInfo badRequest', async () => {
    const challenge = await mintChallenge();
    const first = await scepclient(app.scepUrl, { cn: 'device-two', challenge });
    expect(first.code, first.stderr).toBe(0);
    const second = await scepclient(app.scepUrl, { cn: 'device-three', challenge });
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toContain('failInfo: badRequest (2)');
    expect(existsSync(second.certFile)).toBe(false);
  });

  it('refuses a wrong challenge and a missing challenge with failInfo badRequest', async () => {
    for (const challenge of ['not-a-real-challenge', undefined]) {
      const result = await scepclient(app.scepUrl, {
        cn: 'device-four',
        ...(challenge ? { challenge } : {}),
      });
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toContain('failInfo: badRequest (2)');
    }
    // The server stays healthy after refusals.
    expect((await fetch(`${app.adminUrl}/healthz`)).status).toBe(200);
  });
});
