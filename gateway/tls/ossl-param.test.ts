import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadEvp } from './evp.js';
import { OctetParams, ParamKey } from './ossl-param.js';

const evp = loadEvp()!;

/** Reads the array back from its address with memcpy, as OpenSSL sees it (LP64, little-endian). */
function entries(params: OctetParams, count: number) {
  const view = Buffer.alloc(params.byteLength);
  evp.copy(evp.address(view), params.address, params.byteLength);
  const base = params.address;
  const cString = (address: number) => {
    const at = address - base;
    return view.subarray(at, view.indexOf(0, at)).toString('latin1');
  };
  return Array.from({ length: count + 1 }, (_, i) => {
    const at = i * 40;
    const key = Number(view.readBigUInt64LE(at));
    return {
      key: key === 0 ? null : cString(key),
      type: view.readUInt32LE(at + 8),
      data: view.readBigUInt64LE(at + 16),
      size: view.readBigUInt64LE(at + 24),
      returned: view.readBigUInt64LE(at + 32),
    };
  });
}

describe('OSSL_PARAM arrays', () => {
  it.each([
    { keys: [ParamKey.tag], sets: [[0, 0x7f00_1234_5678, 16]], size: [16n] },
    { keys: [ParamKey.tlsAad], sets: [[0, 0x1000, 13]], size: [13n] },
    {
      keys: [ParamKey.tlsIvFixed, ParamKey.tag],
      sets: [
        [0, 0x5555_0000_0010, -1],
        [1, 2 ** 53 - 1, 16],
      ],
      size: [2n ** 64n - 1n, 16n],
    },
  ])('lays out $keys as octet strings with a NULL-key end', ({ keys, sets, size }) => {
    const params = new OctetParams(evp.address, keys);
    for (const [i, data, n] of sets) params.set(i!, data!, n!);
    const got = entries(params, keys.length);
    expect(got.map((e) => e.key)).toEqual([...keys, null]);
    expect(got.slice(0, -1).map((e) => e.type)).toEqual(keys.map(() => 5));
    expect(got.slice(0, -1).map((e) => e.data)).toEqual(sets.map(([, d]) => BigInt(d!)));
    expect(got.slice(0, -1).map((e) => e.size)).toEqual(size);
    expect(got.map((e) => e.returned)).toEqual(got.map(() => 0n));
    expect(got.at(-1)).toEqual({ key: null, type: 0, data: 0n, size: 0n, returned: 0n });
  });

  it('stores any address below 2^53 and any size exactly (fast-check)', () => {
    const params = new OctetParams(evp.address, [ParamKey.tag, ParamKey.tlsAad]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 }),
        fc.maxSafeNat(),
        fc.integer({ min: 0, max: 2 ** 32 + 5 }),
        (i, data, size) => {
          params.set(i, data, size);
          const e = entries(params, 2)[i]!;
          expect(e.data).toBe(BigInt(data));
          expect(e.size).toBe(BigInt(size));
        },
      ),
    );
  });

  it('OpenSSL reads them: the tag of an AES-GCM encryption comes out where the entry points', () => {
    const key = Buffer.alloc(16, 7);
    const ctx = evp.newContext('aes-128-gcm', key, true);
    try {
      const mem = Buffer.alloc(64);
      const at = evp.address(mem);
      const nonce = new OctetParams(evp.address, [ParamKey.tlsIvFixed]);
      nonce.set(0, at, -1);
      const tag = new OctetParams(evp.address, [ParamKey.tag]);
      tag.set(0, at + 32, 16);
      expect(evp.setParams(ctx, nonce.address)).toBe(1);
      expect(evp.final(ctx, at + 16, at + 48)).toBe(1);
      expect(evp.getParams(ctx, tag.address)).toBe(1);
      // GCM of nothing under key 0x07…, nonce 0: node:crypto's answer.
      expect(mem.subarray(32, 48).toString('hex')).toBe(gcmEmptyTag(key));
    } finally {
      evp.freeContext(ctx);
    }
  });
});

function gcmEmptyTag(key: Buffer): string {
  const c = createCipheriv('aes-128-gcm', key, Buffer.alloc(12));
  c.final();
  return c.getAuthTag().toString('hex');
}
