import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { pendingTransactionFor } from './testing/pending.js';
import { openssl } from './testing/run.js';
import {
  type StrongswanDir,
  strongswanEnroll,
  strongswanKey,
  strongswanScepCa,
} from './testing/strongswan-pki.js';

requirePeers('pki', 'openssl');

async function serialOf(certFile: string): Promise<string> {
  return (await openssl(['x509', '-in', certFile, '-noout', '-serial'])).trim().split('=')[1]!;
}

const caPemOf = (app: RunningAppliance) => join(app.dataDir, 'ca', 'ca.pem');

// Interop with strongSwan's `pki --scep` 5.9.8 (Debian strongswan-pki + libstrongswan-extra-plugins):
// AES-CBC + SHA-256 by default, which it only uses when GetCACaps lists SHA-384 beside AES.
describe('strongSwan pki --scep against outpost', () => {
  let app: RunningAppliance;
  let ca: StrongswanDir;

  beforeAll(async () => {
    app = await startAppliance({ connector: { scep: { challenge: { static: 'strong-static' } } } });
    ca = await strongswanScepCa(app.scepUrl);
  });
  afterAll(async () => app?.stop());

  async function mintChallenge(): Promise<string> {
    const result = await app.cli(['scep', 'challenge', '--ttl', '600']);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  }

  it('enrolls with its defaults (AES, SHA-256) and a one-time challenge; openssl verifies the certificate', async () => {
    const result = await strongswanEnroll(app.scepUrl, ca, 'ss-default', {
      san: 'ss-default.corp.test',
      password: await mintChallenge(),
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toContain('Issued certificate "C=US, O=Example, CN=ss-default"');
    expect(await openssl(['verify', '-CAfile', caPemOf(app), result.certFile])).toContain(': OK');
    const text = await openssl(['x509', '-in', result.certFile, '-noout', '-text']);
    expect(text).toContain('DNS:ss-default.corp.test');
    expect(text).toContain('TLS Web Client Authentication');
    const listed = await app.cli(['certs', 'list', '--json']);
    const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
    expect(JSON.parse(listed.stdout).map((c: { serialHex: string }) => norm(c.serialHex))).toContain(
      norm(await serialOf(result.certFile)),
    );
  });

  it('enrolls with --cipher des3, then renews with a new key (RenewalReq signed by the old certificate)', async () => {
    const enrolled = await strongswanEnroll(app.scepUrl, ca, 'ss-des3', {
      password: 'strong-static',
      cipher: 'des3',
    });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), enrolled.certFile])).toContain(': OK');

    const renewed = await strongswanEnroll(app.scepUrl, ca, 'ss-des3', {
      certFile: join(ca.dir, 'ss-des3-renewed.pem'),
      keyFile: await strongswanKey(ca.dir, 'ss-des3-renewed.key'),
      oldCert: enrolled.certFile,
      oldKey: enrolled.keyFile,
    });
    expect(renewed.code, renewed.stdout + renewed.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), renewed.certFile])).toContain(': OK');
    expect(await serialOf(renewed.certFile)).not.toBe(await serialOf(enrolled.certFile));
    // the renewed certificate certifies the new key
    const certifiedKey = await openssl(['x509', '-in', renewed.certFile, '-pubkey', '-noout']);
    expect(certifiedKey).toBe(await openssl(['pkey', '-in', renewed.keyFile, '-pubout']));
    expect(app.logs()).toMatch(/"via":"renewal:[0-9a-f]+"/);
  });

  it('enrolls with --rsa-padding pss (RSASSA-PSS signatures on the request and its CSR)', async () => {
    const result = await strongswanEnroll(app.scepUrl, ca, 'ss-pss', {
      password: await mintChallenge(),
      rsaPadding: 'pss',
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), result.certFile])).toContain(': OK');
    expect(await openssl(['x509', '-in', result.certFile, '-noout', '-subject'])).toContain('CN = ss-pss');
  });

  it('gets a signed FAILURE badAlg for --digest sha224, and the challenge stays usable', async () => {
    const challenge = await mintChallenge();
    const refused = await strongswanEnroll(app.scepUrl, ca, 'ss-sha224', {
      password: challenge,
      digest: 'sha224',
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/badAlg|bad algorithm/i);
    expect(refused.stderr).not.toContain('HTTP 400');
    const retried = await strongswanEnroll(app.scepUrl, ca, 'ss-sha224', {
      password: challenge,
      keyFile: refused.keyFile,
    });
    expect(retried.code, retried.stdout + retried.stderr).toBe(0);
  });

  it('a CSR refused by policy (RSA-1024) leaves the one-time challenge for the corrected retry', async () => {
    const challenge = await mintChallenge();
    const weak = await strongswanEnroll(app.scepUrl, ca, 'ss-weak', {
      password: challenge,
      keyFile: await strongswanKey(ca.dir, 'ss-weak-1024.key', 1024),
    });
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/badRequest|failed/i);
    const corrected = await strongswanEnroll(app.scepUrl, ca, 'ss-weak', { password: challenge });
    expect(corrected.code, corrected.stdout + corrected.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), corrected.certFile])).toContain(': OK');
  });

  it('eight clients racing with one one-time challenge: exactly one gets a certificate', async () => {
    const challenge = await mintChallenge();
    const racers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        strongswanEnroll(app.scepUrl, ca, `ss-race-${i}`, { password: challenge }),
      ),
    );
    const winners = racers.filter((r) => r.code === 0);
    expect(winners, racers.map((r) => r.stderr).join('\n')).toHaveLength(1);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), winners[0]!.certFile])).toContain(': OK');
    for (const loser of racers.filter((r) => r.code !== 0))
      expect(readFileSync(loser.certFile, 'utf8')).toBe('');
  });

  it('re-enrolling the same key with a new challenge and subject gets a new certificate, not the old one', async () => {
    const first = await strongswanEnroll(app.scepUrl, ca, 'ss-rekey-1', { password: await mintChallenge() });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const second = await strongswanEnroll(app.scepUrl, ca, 'ss-rekey-2', {
      keyFile: first.keyFile,
      password: await mintChallenge(),
    });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.transactionId).toBe(first.transactionId); // strongSwan derives it from the key
    expect(await openssl(['x509', '-in', second.certFile, '-noout', '-subject'])).toContain(
      'CN = ss-rekey-2',
    );
    expect(await serialOf(second.certFile)).not.toBe(await serialOf(first.certFile));
  });

  it('refuses a wrong challenge with a FAILURE CertRep', async () => {
    const result = await strongswanEnroll(app.scepUrl, ca, 'ss-wrong', { password: 'not-the-challenge' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/failed|badRequest/i);
    expect(readFileSync(result.certFile, 'utf8')).toBe('');
  });
});

describe('strongSwan pki --scep with manual approval (PENDING, then polling)', () => {
  let app: RunningAppliance;
  beforeAll(async () => {
    app = await startAppliance({
      connector: {
        scep: { challenge: { static: 'approve-me' } },
        profiles: { device: { approval: 'manual' } },
      },
    });
  });
  afterAll(async () => app?.stop());

  it('polls until `certs approve`, then stores the certificate', async () => {
    const ca = await strongswanScepCa(app.scepUrl);
    const enrolling = strongswanEnroll(app.scepUrl, ca, 'ss-pending', {
      password: 'approve-me',
      interval: 1,
      maxPollTime: 60,
      timeoutMs: 70_000,
    });
    const transactionId = await pendingTransactionFor(app, 'ss-pending');
    const approval = await app.cli(['certs', 'approve', transactionId]);
    expect(approval.code, approval.stderr).toBe(0);
    const result = await enrolling;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.transactionId).toBe(transactionId);
    expect(await openssl(['verify', '-CAfile', caPemOf(app), result.certFile])).toContain(': OK');
  }, 90_000);
});
