import { beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, type ParsedCertificate, parseCertificate } from './certificate.js';
import { buildCrl, parseCrlInfo } from './crl.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from './keys.js';
import { toPem } from './pem.js';
import { opensslAll } from './testing/openssl.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const WEEK = 7 * 24 * 3600 * 1000;

describe('buildCrl', () => {
  let key: KeyPair;
  let ca: ParsedCertificate;
  beforeAll(async () => {
    key = await generateKeyPair('rsa-2048');
    const der = buildCertificate(
      {
        subject: 'CN=CRL Test CA',
        spkiDer: spkiDer(key.publicKey),
        serial: Buffer.from([7]),
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + 52 * WEEK),
        isCa: true,
        keyUsage: ['keyCertSign', 'cRLSign'],
        eku: [],
      },
      keyPairSigner(key),
      'sha256',
    );
    ca = parseCertificate(der);
  });

  /** openssl crl prints "verify OK" / "verify failure" on stderr and exits 0 either way. */
  function crlText(crlDer: Buffer): string {
    const { output } = opensslAll(
      ['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'ca.pem', '-noout', '-text'],
      {
        'crl.der': crlDer,
        'ca.pem': toPem('CERTIFICATE', ca.der),
      },
    );
    if (!output.includes('verify OK')) throw new Error(`CRL did not verify: ${output}`);
    return output;
  }

  it('lists revoked serials with reasons, AKI and CRL number, and verifies against the CA', () => {
    const der = buildCrl(
      {
        issuer: ca,
        thisUpdate: NOW,
        nextUpdate: new Date(NOW.getTime() + WEEK),
        crlNumber: 300n,
        entries: [
          { serialHex: '0a1b2c', revokedAt: NOW, reason: 'keyCompromise' },
          { serialHex: '7f00', revokedAt: NOW, reason: 'unspecified' },
          { serialHex: '0080', revokedAt: NOW, reason: 'superseded' },
        ],
      },
      keyPairSigner(key),
      'sha256',
    );
    const text = crlText(der);
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*300/);
    expect(text).toContain(ca.ski.toString('hex').toUpperCase().match(/../g)!.join(':'));
    expect(text).toMatch(
      /Serial Number: 0A1B2C\s*\n\s*Revocation Date: Mar {2}1 12:00:00 2025 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Key Compromise/,
    );
    expect(text).toMatch(/Serial Number: 7F00\s*\n\s*Revocation Date: [^\n]*\n\s*Serial Number: 80/);
    expect(text).toContain('Superseded');
    expect(parseCrlInfo(der)).toEqual({
      thisUpdate: NOW,
      nextUpdate: new Date(NOW.getTime() + WEEK),
      crlNumber: 300n,
      revokedCount: 3,
    });
  });

  it('fails openssl verification against another CA', async () => {
    const other = await generateKeyPair('rsa-2048');
    const der = buildCrl(
      { issuer: ca, thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + WEEK), crlNumber: 2n, entries: [] },
      keyPairSigner(other),
      'sha256',
    );
    expect(() => crlText(der)).toThrow();
  });

  it('omits the revoked list when empty', () => {
    const der = buildCrl(
      {
        issuer: ca.der,
        thisUpdate: NOW,
        nextUpdate: new Date(NOW.getTime() + WEEK),
        crlNumber: 1n,
        entries: [],
      },
      keyPairSigner(key),
      'sha256',
    );
    expect(crlText(der)).toContain('No Revoked Certificates.');
  });
});
