import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, certificateThumbprint, randomSerial } from '../../../certs/certificate.js';
import { buildDegenerateCertsOnly } from '../../../certs/cms/index.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from '../../../certs/keys.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { MAX_CA_CERT_RESPONSE_BYTES, readCaCertResponse, upstreamCaCerts } from './upstream-ca-certs.js';

const NOW = new Date('2025-06-01T00:00:00Z');
const LATER = new Date('2035-06-01T00:00:00Z');

function cert(
  subject: string,
  keys: KeyPair,
  o: { issuer?: { der: Buffer; keys: KeyPair }; isCa: boolean; keyUsage: string[] },
): Buffer {
  return buildCertificate(
    {
      subject,
      spkiDer: spkiDer(keys.publicKey),
      ...(o.issuer ? { issuer: o.issuer.der } : {}),
      serial: randomSerial(),
      notBefore: NOW,
      notAfter: LATER,
      isCa: o.isCa,
      keyUsage: o.keyUsage,
      eku: [],
    },
    keyPairSigner(o.issuer?.keys ?? keys),
    'sha256',
  );
}

let root: { der: Buffer; keys: KeyPair };
let issuing: { der: Buffer; keys: KeyPair };
let ra: Buffer;
let stranger: Buffer;

beforeAll(async () => {
  const [rootKeys, issuingKeys, raKeys, strangerKeys] = await Promise.all([
    generateKeyPair('rsa-2048'),
    generateKeyPair('rsa-2048'),
    generateKeyPair('rsa-2048'),
    generateKeyPair('rsa-2048'),
  ]);
  const caUsage = ['digitalSignature', 'keyCertSign', 'cRLSign'];
  root = { der: cert('CN=Root', rootKeys, { isCa: true, keyUsage: caUsage }), keys: rootKeys };
  issuing = {
    der: cert('CN=Issuing', issuingKeys, { isCa: true, keyUsage: caUsage, issuer: root }),
    keys: issuingKeys,
  };
  ra = cert('CN=Issuing SCEP RA', raKeys, {
    isCa: false,
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    issuer: issuing,
  });
  stranger = cert('CN=Stranger RA', strangerKeys, { isCa: false, keyUsage: ['keyEncipherment'] });
});

describe('readCaCertResponse', () => {
  it('reads one DER certificate (micromdm) and a degenerate PKCS#7 (RA + chain)', () => {
    expect(readCaCertResponse(root.der)).toEqual([root.der]);
    expect(readCaCertResponse(buildDegenerateCertsOnly([ra, issuing.der, root.der]))).toEqual([
      ra,
      issuing.der,
      root.der,
    ]);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['garbage', Buffer.from('not a certificate')],
    ['no certificate', buildDegenerateCertsOnly([])],
    ['too large', Buffer.alloc(MAX_CA_CERT_RESPONSE_BYTES + 1, 0x30)],
  ])('refuses %s with a DecodeError', (_name, body) => {
    expect(() => readCaCertResponse(body)).toThrow(expect.objectContaining({ code: ErrorCodes.decode }));
  });

  it('never throws anything but OutpostError (fuzz)', () => {
    const valid = buildDegenerateCertsOnly([ra, root.der]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc
            .tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }))
            .map(([i, b]) => Uint8Array.from(valid).fill(b, i, i + 1)),
          fc.nat(valid.length).map((n) => valid.subarray(0, n)),
        ),
        (bytes) => {
          try {
            readCaCertResponse(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(OutpostError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('upstreamCaCerts', () => {
  it.each([
    ['the CA alone is its own RA (micromdm)', () => [root.der], () => root.der, () => [root.der]],
    [
      'an RA is the recipient; the chain is issuing CA first, root last',
      () => [root.der, ra, issuing.der],
      () => ra,
      () => [issuing.der, root.der],
    ],
  ])('%s', (_name, certs, recipient, chain) => {
    const sorted = upstreamCaCerts(certs());
    expect(sorted.recipient).toEqual(recipient());
    expect(sorted.chain).toEqual(chain());
    expect(sorted.all).toEqual(certs());
  });

  it('accepts a set that chains to the pinned certificate, colons and case ignored', () => {
    const pin = certificateThumbprint(root.der).toUpperCase().match(/../g)!.join(':');
    expect(upstreamCaCerts([ra, issuing.der, root.der], pin).recipient).toEqual(ra);
  });

  it.each([
    ['the pinned certificate is missing', () => [ra, issuing.der], () => root.der],
    ['a certificate does not chain to the pin', () => [stranger, issuing.der, root.der], () => root.der],
    ['the pin is below a certificate of the set', () => [root.der, issuing.der], () => issuing.der],
  ])('refuses when %s', (_name, certs, pinned) => {
    expect(() => upstreamCaCerts(certs(), certificateThumbprint(pinned()))).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });
});
