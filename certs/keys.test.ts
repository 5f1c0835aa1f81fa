import { createPrivateKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { generateKeyPair, keyPairSigner, keysMatch, loadPrivateKey, privateKeyToPem } from './keys.js';

describe('keys', () => {
  it.each([
    ['rsa-2048', 'rsa', { modulusLength: 2048 }],
    ['ec-p256', 'ec', { namedCurve: 'prime256v1' }],
    ['ec-p384', 'ec', { namedCurve: 'secp384r1' }],
  ] as const)('generates %s', async (alg, type, details) => {
    const pair = await generateKeyPair(alg);
    expect(pair.privateKey.asymmetricKeyType).toBe(type);
    expect(pair.privateKey.asymmetricKeyDetails).toMatchObject(details);
    const sig = keyPairSigner(pair).sign(Buffer.from('x'), 'sha256');
    expect(verify('sha256', Buffer.from('x'), pair.publicKey, sig)).toBe(true);
  });

  it('round-trips PKCS#8, encrypted PKCS#8 and PKCS#1 PEM', async () => {
    const pair = await generateKeyPair('rsa-2048');
    const pkcs8 = privateKeyToPem(pair.privateKey);
    expect(pkcs8).toContain('BEGIN PRIVATE KEY');
    expect(keysMatch(loadPrivateKey(pkcs8).privateKey, pair.publicKey)).toBe(true);

    const encrypted = privateKeyToPem(pair.privateKey, 'secret');
    expect(encrypted).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(keysMatch(loadPrivateKey(encrypted, 'secret').privateKey, pair.publicKey)).toBe(true);
    expect(() => loadPrivateKey(encrypted, 'wrong')).toThrow(DecodeError);
    expect(() => loadPrivateKey(encrypted)).toThrow(DecodeError);

    const pkcs1 = pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(keysMatch(loadPrivateKey(pkcs1).privateKey, pair.publicKey)).toBe(true);

    const legacy = createPrivateKey(pkcs1).export({
      type: 'pkcs1',
      format: 'pem',
      cipher: 'aes-128-cbc',
      passphrase: 'pw',
    }) as string;
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED');
    expect(keysMatch(loadPrivateKey(legacy, 'pw').privateKey, pair.publicKey)).toBe(true);
  });

  it('rejects garbage', () => {
    expect(() => loadPrivateKey('not a key')).toThrow(DecodeError);
  });
});
