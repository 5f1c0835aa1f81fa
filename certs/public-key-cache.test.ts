import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicKeyFromSpki } from './public-key-cache.js';

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
  key.export({ format: 'der', type: 'spki' });

describe('publicKeyFromSpki', () => {
  const rsa = spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const pss = spkiOf(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey);
  const ec = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);

  it.each([
    ['RSA (through its PKCS#1 key)', rsa, 'rsa'],
    ['RSA-PSS', pss, 'rsa-pss'],
    ['EC P-256', ec, 'ec'],
  ])('imports %s as createPublicKey does', (_name, spki, type) => {
    const key = publicKeyFromSpki(Uint8Array.from(spki));
    expect(key.asymmetricKeyType).toBe(type);
    expect(key.equals(createPublicKey({ key: spki, format: 'der', type: 'spki' }))).toBe(true);
    expect(key.export({ format: 'der', type: 'spki' }).equals(spki)).toBe(true);
  });

  it('accepts and refuses what createPublicKey does, also when it looks like an RSA SPKI', () => {
    // rsaEncryption with a BIT STRING that is not an RSAPublicKey
    const notAKey = Buffer.from('301a300d06092a864886f70d010101050003090030060201010201', 'hex');
    const bad = [
      notAKey,
      Buffer.concat([rsa, Buffer.of(0)]), // trailing byte
      Buffer.from(rsa).fill(0, rsa.length - 3), // public exponent zero
    ];
    for (const spki of bad) {
      let expected: string | undefined;
      try {
        createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch (e) {
        expected = (e as Error).message;
      }
      let actual: string | undefined;
      try {
        publicKeyFromSpki(Uint8Array.from(spki));
      } catch (e) {
        actual = (e as Error).message;
      }
      expect(actual).toBe(expected);
    }
  });
});
