import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type HmacHash, loadHmac } from './evp-hmac.js';

const hmac = loadHmac();

describe('libcrypto HMAC (evp-hmac.ts)', () => {
  it('loads in this Node (koffi and the HMAC symbols are there)', () => {
    expect(hmac).toBeDefined();
  });

  it('matches RFC 4231 test case 2 (HMAC-SHA-256 and -384)', () => {
    const key = Buffer.from('Jefe');
    const data = Buffer.from('what do ya want for nothing?');
    expect(hmac!('sha256', key, data).toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(hmac!('sha384', key, data).toString('hex')).toBe(
      'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
    );
  });

  it.each<[HmacHash, number, number]>([
    ['sha256', 32, 13],
    ['sha256', 0, 0],
    ['sha256', 200, 1000], // a key longer than the block is hashed first
    ['sha384', 48, 14],
    ['sha384', 1, 300],
  ])(
    'equals node:crypto for %s, %d-byte keys, %d-byte data, call after call',
    (hash, keyLength, dataLength) => {
      const outputs: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const key = randomBytes(keyLength);
        const data = randomBytes(dataLength);
        const mine = hmac!(hash, key, data);
        expect(mine.equals(createHmac(hash, key).update(data).digest())).toBe(true);
        outputs.push(mine);
      }
      // Each answer is a Buffer of its own: a later call does not overwrite an earlier one.
      expect(new Set(outputs.map((o) => o.toString('hex'))).size).toBe(keyLength + dataLength > 0 ? 20 : 1);
    },
  );

  it('reads keys and data at their offset inside a larger buffer', () => {
    const whole = randomBytes(100);
    const key = whole.subarray(7, 39);
    const data = whole.subarray(50, 63);
    expect(hmac!('sha256', key, data).equals(createHmac('sha256', key).update(data).digest())).toBe(true);
  });
});
