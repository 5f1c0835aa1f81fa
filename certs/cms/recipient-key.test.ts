import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { checkPkcs1v15Lengths, keyOrSynthetic, syntheticKey } from './recipient-key.js';

describe('keyOrSynthetic (implicit rejection where the key store unpads)', () => {
  it('keeps a candidate of the right length and takes the synthetic key for anything else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.option(fc.uint8Array({ maxLength: 80 })),
        (s, c) => {
          const synthetic = Buffer.from(s);
          const candidate = c === null ? undefined : Buffer.from(c);
          const expected = candidate?.length === synthetic.length ? candidate : synthetic;
          expect(keyOrSynthetic(candidate, synthetic)).toEqual(expected);
        },
      ),
    );
  });
});

describe('syntheticKey', () => {
  it('is deterministic per (secret, ciphertext), of any length, and differs with either', () => {
    const secret = Buffer.alloc(32, 1);
    const a = syntheticKey(secret, Buffer.from('ciphertext'), 40);
    expect(a).toHaveLength(40);
    expect(syntheticKey(secret, Buffer.from('ciphertext'), 40)).toEqual(a);
    expect(syntheticKey(secret, Buffer.from('ciphertexu'), 40)).not.toEqual(a);
    expect(syntheticKey(Buffer.alloc(32, 2), Buffer.from('ciphertext'), 40)).not.toEqual(a);
    expect(syntheticKey(secret, Buffer.from('ciphertext'), 16)).toEqual(a.subarray(0, 16));
  });
});

describe('checkPkcs1v15Lengths', () => {
  it('refuses a ciphertext that is not k bytes, or a key that leaves no room for 8 bytes of padding', () => {
    expect(() => checkPkcs1v15Lengths(256, Buffer.alloc(256), 32)).not.toThrow();
    for (const [k, c, key] of [
      [256, 255, 32],
      [256, 256, 246],
    ] as const) {
      expect(() => checkPkcs1v15Lengths(k, Buffer.alloc(c), key)).toThrow(
        expect.objectContaining({ code: ErrorCodes.decrypt }),
      );
    }
  });
});
