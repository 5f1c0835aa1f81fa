import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSignedData } from '../certs/cms/index.js';
import { toPem } from '../certs/pem.js';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

// openssl as the independent judge: the CRL after a revocation (fetched from the CDP URL the
// certificates carry), chain checks with -crl_check, and our CertRep parsed by `openssl cms`.
describe('openssl verifies the CA, CRL and CertRep of a running appliance', () => {
  let app: RunningAppliance;
  let work: string;
  let caFile: string;

  beforeAll(async () => {
    app = await startAppliance({ connector: { scep: { challenge: { static: 'static-secret' } } } });
    work = mkdtempSync(join(tmpdir(), 'outpost-openssl-'));
    caFile = join(app.dataDir, 'ca', 'ca.pem');
  });
  afterAll(async () => app?.stop());

  async function fetchCrl(certFile: string): Promise<string> {
    const text = await openssl(['x509', '-in', certFile, '-noout', '-ext', 'crlDistributionPoints']);
    const url = /URI:(\S+)/.exec(text)![1]!;
    // The CDP names the public URL (host name); fetch the same path from the loopback listener.
    const res = await fetch(`${app.baseUrl}${new URL(url).pathname}`);
    expect(res.headers.get('content-type')).toBe('application/pkix-crl');
    const file = join(work, `crl-${Date.now()}.der`);
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    return file;
  }

  it('lists a serial revoked with the CLI on the CRL served at the CDP, and -crl_check rejects it', async () => {
    const enrolled = await scepclient(app.scepUrl, { cn: 'to-revoke', challenge: 'static-secret' });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    const serial = (await openssl(['x509', '-in', enrolled.certFile, '-noout', '-serial']))
      .trim()
      .split('=')[1]!;

    const before = await fetchCrl(enrolled.certFile);
    const beforeText = await openssl([
      'crl',
      '-inform',
      'DER',
      '-in',
      before,
      '-CAfile',
      caFile,
      '-noout',
      '-text',
    ]);
    expect(beforeText).toContain('verify OK');
    expect(beforeText).not.toContain(serial);

    const revoked = await app.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const again = await app.cli(['certs', 'revoke', serial]);
    expect(again.code).toBe(4); // conflict: already revoked

    // The running server adopts the CRL the CLI process wrote within its maintenance interval.
    let crlText = '';
    for (let i = 0; i < 40 && !crlText.includes(serial); i++) {
      await new Promise((r) => setTimeout(r, 500));
      const crl = await fetchCrl(enrolled.certFile);
      crlText = await openssl(['crl', '-inform', 'DER', '-in', crl, '-CAfile', caFile, '-noout', '-text']);
    }
    expect(crlText).toContain('verify OK');
    expect(crlText).toContain(serial);
    expect(crlText).toContain('Key Compromise');
    expect(crlText).toMatch(/X509v3 CRL Number:\s*\n\s*[2-9]/);

    const crlPem = join(work, 'crl.pem');
    await openssl(['crl', '-inform', 'DER', '-in', join(app.dataDir, 'ca', 'crl.der'), '-out', crlPem]);
    const check = await openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      caFile,
      '-CRLfile',
      crlPem,
      enrolled.certFile,
    ]).catch((e: Error) => e.message);
    expect(check).toContain('certificate revoked');

    const listed = JSON.parse((await app.cli(['certs', 'list', '--status', 'revoked', '--json'])).stdout);
    expect(listed).toHaveLength(1);
  });

  it('GetCACert answers RA + CA as PKCS#7 that openssl reads, and GetCRL-free errors are 4xx', async () => {
    const res = await fetch(`${app.scepUrl}?operation=GetCACert`);
    expect(res.headers.get('content-type')).toBe('application/x-x509-ca-ra-cert');
    const p7 = join(work, 'cacert.p7b');
    writeFileSync(p7, Buffer.from(await res.arrayBuffer()));
    const printed = await openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs', '-noout']);
    expect(printed).toContain('SCEP RA');
    expect(printed).toContain('Outpost Root CA');

    const certs = decodeSignedData(
      Buffer.from(await (await fetch(`${app.scepUrl}?operation=GetCACert`)).arrayBuffer()),
      {
        maxBytes: 1 << 20,
      },
    ).certificates;
    writeFileSync(join(work, 'ra.pem'), toPem('CERTIFICATE', certs[0]!));
    expect(await openssl(['verify', '-CAfile', caFile, join(work, 'ra.pem')])).toContain(': OK');

    for (const [query, status] of [
      ['operation=Nope', 400],
      ['operation=PKIOperation&message=%%%', 400],
      [`operation=PKIOperation&message=${randomBytes(300).toString('base64url')}`, 400],
      ['operation=GetNextCACert', 400],
    ] as const) {
      expect((await fetch(`${app.scepUrl}?${query}`)).status, query).toBeGreaterThanOrEqual(status);
    }
    const garbage = await fetch(`${app.scepUrl}?operation=PKIOperation`, {
      method: 'POST',
      body: randomBytes(2000),
    });
    expect(garbage.status).toBe(400);
    const huge = await fetch(`${app.scepUrl}?operation=PKIOperation`, {
      method: 'POST',
      body: Buffer.alloc(300_000, 0x30),
    });
    expect(huge.status).toBe(413);
    expect((await fetch(`${app.adminUrl}/healthz`)).status).toBe(200);
  });
});
