import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildCertificate,
  certificateThumbprint,
  isSignedBy,
  parseCertificate,
  randomSerial,
  serialHex,
} from './certificate.js';
import { emptySans } from './extensions.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from './keys.js';
import { toPem } from './pem.js';
import type { HashName } from './signer.js';
import { openssl } from './testing/openssl.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const YEAR = 365 * 24 * 3600 * 1000;

interface Fixture {
  caKey: KeyPair;
  leafKey: KeyPair;
  hash: HashName;
}

describe.each([
  ['RSA CA, sha256', 'rsa-2048', 'ec-p256', 'sha256'],
  ['EC P-384 CA, sha384', 'ec-p384', 'rsa-2048', 'sha384'],
] as const)('buildCertificate with %s', (_name, caAlg, leafAlg, hash) => {
  const f = {} as Fixture;
  let caDer: Buffer;
  beforeAll(async () => {
    [f.caKey, f.leafKey] = await Promise.all([generateKeyPair(caAlg), generateKeyPair(leafAlg)]);
    f.hash = hash;
    caDer = buildCertificate(
      {
        subject: 'CN=Test Root CA,O=Outpost',
        spkiDer: spkiDer(f.caKey.publicKey),
        serial: Buffer.from([0x01]),
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + 10 * YEAR),
        isCa: true,
        pathLen: 0,
        keyUsage: ['keyCertSign', 'cRLSign'],
        eku: [],
      },
      keyPairSigner(f.caKey),
      hash,
    );
  });

  it('makes a self-signed CA that openssl accepts', () => {
    const text = openssl(['x509', '-in', 'ca.pem', '-noout', '-text'], {
      'ca.pem': toPem('CERTIFICATE', caDer),
    });
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    expect(
      openssl(['verify', '-CAfile', 'ca.pem', 'ca.pem'], { 'ca.pem': toPem('CERTIFICATE', caDer) }),
    ).toContain('OK');
    const ca = parseCertificate(caDer);
    expect(ca).toMatchObject({ isCa: true, pathLen: 0, serialHex: '01', notBefore: NOW });
    expect(ca.subject.text).toBe('CN=Test Root CA,O=Outpost');
    expect(ca.issuer.der).toEqual(ca.subject.der);
    expect(isSignedBy(ca, f.caKey.publicKey)).toBe(true);
  });

  it('issues a leaf that openssl verifies, with KU/EKU/SAN/CDP/AIA', () => {
    const ca = parseCertificate(caDer);
    const serial = randomSerial();
    const der = buildCertificate(
      {
        subject: 'CN=device-1,OU=Devices,O=Example',
        spkiDer: spkiDer(f.leafKey.publicKey),
        issuer: ca,
        serial,
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + YEAR),
        isCa: false,
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        eku: ['clientAuth', 'msSmartcardLogin', '1.2.3.4.5'],
        sans: {
          ...emptySans(),
          dns: ['d1.corp.test'],
          email: ['d1@corp.test'],
          ip: ['192.0.2.1'],
          upn: ['u@corp.test'],
        },
        crlDistributionPoint: 'http://outpost.test/crl.der',
        ocspUrl: 'http://outpost.test/ocsp',
      },
      keyPairSigner(f.caKey),
      f.hash,
    );
    const files = { 'ca.pem': toPem('CERTIFICATE', caDer), 'leaf.pem': toPem('CERTIFICATE', der) };
    const text = openssl(['x509', '-in', 'leaf.pem', '-noout', '-text'], files);
    expect(text).toContain('Digital Signature, Key Encipherment');
    expect(text).toContain('TLS Web Client Authentication, Microsoft Smartcard Login, 1.2.3.4.5');
    expect(text).toContain('DNS:d1.corp.test');
    expect(text).toMatch(/UPN:u@corp.test|othername: UPN::u@corp.test/);
    expect(text).toContain('URI:http://outpost.test/crl.der');
    expect(text).toContain('OCSP - URI:http://outpost.test/ocsp');
    expect(text).toContain(f.hash === 'sha256' ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA384');
    expect(
      openssl(
        ['verify', '-CAfile', 'ca.pem', '-attime', String(NOW.getTime() / 1000 + 60), 'leaf.pem'],
        files,
      ),
    ).toContain('leaf.pem: OK');

    const leaf = parseCertificate(der);
    expect(leaf.serialHex).toBe(serialHex(serial));
    expect(leaf.issuer.text).toBe(ca.subject.text);
    expect(leaf.sans.upn).toEqual(['u@corp.test']);
    expect(leaf.eku).toEqual(['clientAuth', 'msSmartcardLogin', '1.2.3.4.5']);
    expect(isSignedBy(leaf, ca.publicKey)).toBe(true);
    expect(isSignedBy(leaf, f.leafKey.publicKey)).toBe(false);
    const akiLine = text.match(/Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/)?.[1];
    expect(akiLine?.replace(/:/g, '').toLowerCase()).toBe(ca.ski.toString('hex'));
  });

  it('reads every UTCTime field in its place, and has no pathLen where none is set', () => {
    const notBefore = new Date('2031-11-23T17:45:59Z'); // month, day, hour, minute, second all differ
    const der = buildCertificate(
      {
        subject: 'CN=times',
        spkiDer: spkiDer(f.leafKey.publicKey),
        issuer: caDer,
        serial: Buffer.from([0x01]),
        notBefore,
        notAfter: new Date('2049-12-31T23:59:58Z'),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      keyPairSigner(f.caKey),
      f.hash,
    );
    const parsed = parseCertificate(der);
    expect(parsed.notBefore).toEqual(notBefore);
    expect(parsed.notAfter).toEqual(new Date('2049-12-31T23:59:58Z'));
    expect('pathLen' in parsed).toBe(false);
    expect(parsed).toMatchObject({ isCa: false, keyUsage: ['digitalSignature'], eku: ['clientAuth'] });
  });

  it('marks SAN critical when the subject is empty, and uses GeneralizedTime from 2050', () => {
    const der = buildCertificate(
      {
        subject: '',
        spkiDer: spkiDer(f.leafKey.publicKey),
        issuer: caDer,
        serial: Buffer.from([0x80, 0x01]),
        notBefore: NOW,
        notAfter: new Date('2050-01-01T00:00:00Z'),
        isCa: false,
        keyUsage: [],
        eku: ['serverAuth'],
        sans: { ...emptySans(), dns: ['only-san.test'] },
      },
      keyPairSigner(f.caKey),
      f.hash,
    );
    const text = openssl(['x509', '-in', 'c.pem', '-noout', '-text'], { 'c.pem': toPem('CERTIFICATE', der) });
    expect(text).toMatch(/Subject Alternative Name: critical/);
    expect(text).toContain('Not After : Jan  1 00:00:00 2050 GMT');
    const parsed = parseCertificate(der);
    expect(parsed.serialHex).toBe('008001');
    expect(parsed.notAfter).toEqual(new Date('2050-01-01T00:00:00Z'));
  });
});

describe('serials and thumbprints', () => {
  it('randomSerial is 16 bytes, positive, minimal, unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const s = randomSerial();
      expect(s.length).toBe(16);
      expect(s[0]! & 0x80).toBe(0);
      expect(s[0]).not.toBe(0);
      seen.add(serialHex(s));
    }
    expect(seen.size).toBe(10_000);
  });

  it.each([
    [[0x01], '01'],
    [[0x00, 0x00, 0x7f], '7f'],
    [[0x80], '0080'],
    [[0x00], '00'],
  ])('serialHex(%j) = %s', (bytes, hex) => {
    expect(serialHex(Uint8Array.from(bytes))).toBe(hex);
  });

  it('thumbprint is sha256 hex', () => {
    expect(certificateThumbprint(Buffer.from('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('parseCertificate with publicKey: lazy', () => {
  let key: KeyPair;
  const issue = (spki: Buffer) =>
    buildCertificate(
      {
        subject: 'CN=device',
        spkiDer: spki,
        serial: Buffer.from([0x02]),
        notBefore: NOW,
        notAfter: new Date(NOW.getTime() + YEAR),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      keyPairSigner(key),
      'sha256',
    );
  beforeAll(async () => {
    key = await generateKeyPair('ec-p256');
  });

  it('gives the same key, imported on first read', () => {
    const der = issue(spkiDer(key.publicKey));
    const lazy = parseCertificate(der, { publicKey: 'lazy' });
    expect(lazy.publicKey.export({ format: 'der', type: 'spki' })).toEqual(spkiDer(key.publicKey));
    expect(lazy.publicKey).toBe(lazy.publicKey);
    expect({ ...lazy, publicKey: undefined }).toEqual({ ...parseCertificate(der), publicKey: undefined });
  });

  it('parses a certificate whose key OpenSSL cannot import; reading the key throws', () => {
    // SubjectPublicKeyInfo { AlgorithmIdentifier { 1.2.3.4 }, BIT STRING 00 01 02 }
    const der = issue(Buffer.from('300c300506032a03040303000102', 'hex'));
    expect(() => parseCertificate(der)).toThrow(/malformed certificate/);
    const lazy = parseCertificate(der, { publicKey: 'lazy' });
    expect(lazy.subject.text).toBe('CN=device');
    expect(() => lazy.publicKey).toThrow();
  });
});
