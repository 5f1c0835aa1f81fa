import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  publicEncrypt,
  sign,
  verify,
} from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestInfo, ecdsaRawToDer } from './signature-encodings.js';

describe('digestInfo', () => {
  // What OpenSSL puts under RSASSA-PKCS1-v1_5: recover it from a real signature with the public key.
  it.each(['sha1', 'sha256', 'sha384', 'sha512'] as const)('is what node:crypto signs for %s', (hash) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const data = Buffer.from('outpost');
    const signature = sign(hash, data, privateKey);
    const recovered = publicDecryptPkcs1(publicKey, signature);
    expect(recovered.toString('hex')).toBe(
      digestInfo(hash, createHash(hash).update(data).digest()).toString('hex'),
    );
  });
});

function publicDecryptPkcs1(publicKey: KeyObject, signature: Buffer): Buffer {
  // RSA verification primitive: s^e mod n, then strip EMSA-PKCS1-v1_5 (00 01 FF.. 00).
  const em = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
  return em.subarray(em.indexOf(0, 2) + 1);
}

describe('ecdsaRawToDer', () => {
  it.each([
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const)('turns an IEEE P1363 %s signature into one node:crypto verifies as DER', (curve, hash) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(verify(hash, data, publicKey, ecdsaRawToDer(raw))).toBe(true);
    }
  });

  it('encodes minimal non-negative INTEGERs for any halves', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 66 })
          .chain((n) =>
            fc.tuple(
              fc.uint8Array({ minLength: n, maxLength: n }),
              fc.uint8Array({ minLength: n, maxLength: n }),
            ),
          ),
        ([r, s]) => {
          const der = ecdsaRawToDer(Buffer.concat([r, s]));
          expect(der[0]).toBe(0x30);
          const first = der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2);
          expect(first[0]).toBe(0x02);
          const value = first.subarray(2, 2 + first[1]!);
          expect(value[0]! & 0x80).toBe(0);
          if (value.length > 1) expect(value[0] !== 0 || (value[1]! & 0x80) !== 0).toBe(true);
          expect(BigInt(`0x${Buffer.from(value).toString('hex')}`)).toBe(
            BigInt(`0x${Buffer.from(r).toString('hex') || '0'}`),
          );
        },
      ),
    );
  });

  it('refuses an odd or empty input', () => {
    expect(() => ecdsaRawToDer(Buffer.alloc(0))).toThrow(RangeError);
    expect(() => ecdsaRawToDer(Buffer.alloc(3))).toThrow(RangeError);
  });
});
