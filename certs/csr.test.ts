import { execFileSync } from 'node:child_process';
import * as fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { buildCsr, csrRequestInfoDer, MAX_CSR_BYTES, parseCsr } from './csr.js';
import { generateKeyPair, type KeyPair } from './keys.js';
import { opensslOutput } from './testing/openssl.js';

const REQ_CONFIG = `
[req]
prompt = no
distinguished_name = dn
attributes = attrs
req_extensions = ext
[dn]
C = US
O = Example
CN = device-1
[attrs]
challengePassword = s3cret-Challenge
[ext]
subjectAltName = DNS:device-1.corp.test,email:d1@corp.test,IP:192.0.2.7,IP:2001:db8::7,URI:urn:uuid:1234,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@corp.test
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth,1.3.6.1.4.1.311.20.2.2
`;

function opensslCsr(keyArgs: string[], digest = '-sha256'): Buffer {
  return opensslOutput(
    [
      'req',
      '-new',
      ...keyArgs,
      '-nodes',
      '-keyout',
      'k.pem',
      '-config',
      'req.cnf',
      digest,
      '-outform',
      'DER',
      '-out',
      'r.der',
    ],
    { 'req.cnf': REQ_CONFIG },
    'r.der',
  );
}

describe('parseCsr on openssl req output', () => {
  it.each([
    ['RSA-2048 sha256', ['-newkey', 'rsa:2048'], '-sha256', { keyType: 'rsa', keyBits: 2048 }],
    ['RSA-2048 sha1', ['-newkey', 'rsa:2048'], '-sha1', { keyType: 'rsa', keyBits: 2048 }],
    [
      'EC P-256',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      '-sha256',
      { keyType: 'ec', keyBits: 256, curve: 'P-256' },
    ],
    [
      'EC P-384 sha384',
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      '-sha384',
      { keyType: 'ec', keyBits: 384, curve: 'P-384' },
    ],
    [
      'RSA-PSS',
      ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'],
      '-sha256',
      { keyType: 'rsa', keyBits: 2048 },
    ],
  ])('%s', (_name, keyArgs, digest, key) => {
    const csr = parseCsr(opensslCsr(keyArgs, digest));
    expect(csr).toMatchObject({
      ...key,
      signatureValid: true,
      challengePassword: 's3cret-Challenge',
      requestedKeyUsage: ['digitalSignature', 'keyEncipherment'],
      requestedEku: ['clientAuth', 'msSmartcardLogin'],
      sans: {
        dns: ['device-1.corp.test'],
        email: ['d1@corp.test'],
        ip: ['192.0.2.7', '2001:db8::7'],
        uri: ['urn:uuid:1234'],
        upn: ['user@corp.test'],
      },
    });
    expect(csr.subject.text).toBe('CN=device-1,O=Example,C=US');
  });

  it('flags a tampered signature as invalid without throwing', () => {
    const der = opensslCsr(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const at = der.indexOf(Buffer.from('device-1'));
    der[at] = der[at]! ^ 0x01;
    expect(parseCsr(der).signatureValid).toBe(false);
  });
});

describe('buildCsr', () => {
  let rsa: KeyPair;
  let ec: KeyPair;
  beforeAll(async () => {
    [rsa, ec] = await Promise.all([generateKeyPair('rsa-2048'), generateKeyPair('ec-p256')]);
  });

  it.each([
    ['rsa', () => rsa, 'sha256'],
    ['ec', () => ec, 'sha384'],
  ] as const)('round-trips a %s CSR and openssl verifies it', (_n, pair, hash) => {
    const der = buildCsr('CN=Jürgen+UID=42,OU=Devices,O=Example', pair(), {
      hash,
      challengePassword: 'pä$$',
      sans: { dns: ['a.test'], upn: ['j@corp.test'], ip: ['10.0.0.1'] },
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
    });
    const csr = parseCsr(der);
    expect(csr).toMatchObject({
      signatureValid: true,
      challengePassword: 'pä$$',
      sans: { dns: ['a.test'], upn: ['j@corp.test'], ip: ['10.0.0.1'], email: [], uri: [] },
      requestedKeyUsage: ['digitalSignature'],
      requestedEku: ['clientAuth'],
    });
    expect(csr.subject.text).toBe('CN=Jürgen+UID=42,OU=Devices,O=Example');
    const out = execFileSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout', '-text'], {
      input: der,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(out).toContain('DNS:a.test');
  });

  it('refuses oversized input before decoding', () => {
    expect(() => parseCsr(Buffer.alloc(MAX_CSR_BYTES + 1))).toThrow(DecodeError);
    expect(() => csrRequestInfoDer(Buffer.alloc(MAX_CSR_BYTES + 1))).toThrow(DecodeError);
  });

  it('csrRequestInfoDer: equal for the same request re-signed (ECDSA), different for another subject', () => {
    const a = buildCsr('CN=same', ec, { challengePassword: 'pw' });
    const b = buildCsr('CN=same', ec, { challengePassword: 'pw' });
    expect(a.equals(b)).toBe(false); // ECDSA signatures are randomized
    expect(csrRequestInfoDer(a)).toEqual(csrRequestInfoDer(b));
    expect(csrRequestInfoDer(buildCsr('CN=other', ec, { challengePassword: 'pw' }))).not.toEqual(
      csrRequestInfoDer(a),
    );
    expect(a.includes(csrRequestInfoDer(a))).toBe(true);
  });

  it('throws only DecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expectOnlyDecodeError(() => parseCsr(bytes));
        expectOnlyDecodeError(() => csrRequestInfoDer(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('throws only DecodeError on mutated valid CSRs', () => {
    const valid = buildCsr('CN=fuzz,O=Example', ec, {
      challengePassword: 'pw',
      sans: { dns: ['x.test'], email: ['a@b'], upn: ['u@c'], ip: ['::1'], uri: ['https://u'] },
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth', '1.2.3.4'],
    });
    const mutation = fc.record({
      at: fc.nat({ max: valid.length - 1 }),
      byte: fc.integer({ min: 0, max: 255 }),
      cut: fc.nat({ max: valid.length }),
      kind: fc.constantFrom('flip', 'truncate', 'insert'),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes: Buffer = Buffer.from(valid);
        for (const m of mutations) bytes = mutate(bytes, m);
        expectOnlyDecodeError(() => parseCsr(bytes));
        expectOnlyDecodeError(() => csrRequestInfoDer(bytes));
      }),
      { numRuns: 1500 },
    );
  });
});

function mutate(bytes: Buffer, m: { at: number; byte: number; cut: number; kind: string }): Buffer {
  const at = Math.min(m.at, Math.max(bytes.length - 1, 0));
  if (m.kind === 'truncate') return bytes.subarray(0, Math.min(m.cut, bytes.length));
  if (m.kind === 'insert')
    return Buffer.concat([bytes.subarray(0, at), Buffer.from([m.byte]), bytes.subarray(at)]);
  const out = Buffer.from(bytes);
  if (out.length > 0) out[at] = m.byte;
  return out;
}

function expectOnlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}
