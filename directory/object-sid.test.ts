import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { decodeObjectGuid } from './object-guid.js';
import { decodeObjectSid, encodeObjectSid } from './object-sid.js';

// bob's objectSid from shared/peers/test-slapd.sh (the binary filter the fixture answers).
const BOB_SID_HEX = '010500000000000515000000dcf4dc3b833d2b46828ba62852040000';
const BOB_SID = 'S-1-5-21-1004336348-1177238915-682003330-1106';

describe('objectSid', () => {
  it('decodes the AD binary layout (revision, count, 48-bit BE authority, LE sub-authorities)', () => {
    expect(decodeObjectSid(Buffer.from(BOB_SID_HEX, 'hex'))).toBe(BOB_SID);
  });

  it('decodes well-known SIDs', () => {
    expect(decodeObjectSid(Buffer.from('01010000000000050a000000', 'hex'))).toBe('S-1-5-10'); // SELF
    expect(decodeObjectSid(Buffer.from('010000000000000000', 'hex').subarray(0, 8))).toBe('S-1-0');
  });

  it('encodes back to the same bytes', () => {
    expect(encodeObjectSid(BOB_SID).toString('hex')).toBe(BOB_SID_HEX);
  });

  it('round-trips any valid SID', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
        (authority, subs) => {
          const text = ['S-1', authority, ...subs].join('-');
          expect(decodeObjectSid(encodeObjectSid(text))).toBe(text);
        },
      ),
    );
  });

  it('throws DecodeError on malformed bytes, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          expect(decodeObjectSid(bytes)).toMatch(/^S-1-\d+(-\d+)*$/);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
    expect(() => decodeObjectSid(Buffer.from(BOB_SID_HEX.slice(0, -2), 'hex'))).toThrow(DecodeError);
    expect(() => decodeObjectSid(Buffer.from(`02${BOB_SID_HEX.slice(2)}`, 'hex'))).toThrow(/revision/);
    expect(() =>
      decodeObjectSid(
        Buffer.alloc(8 + 16 * 4, 0)
          .fill(16, 1, 2)
          .fill(1, 0, 1),
      ),
    ).toThrow(/max 15/);
  });

  it('refuses malformed text', () => {
    for (const bad of ['S-2-5', 'S-1', 'S-1-5-', 'S-1-5-4294967296', `S-1-${2 ** 48}`, 'x']) {
      expect(() => encodeObjectSid(bad), bad).toThrow(DecodeError);
    }
  });
});

describe('objectGUID', () => {
  it('prints the registry form (first three fields little-endian)', () => {
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(decodeObjectGuid(bytes)).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(() => decodeObjectGuid(bytes.subarray(1))).toThrow(DecodeError);
  });
});
