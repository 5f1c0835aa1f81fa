import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import {
  checkSidText,
  decodeSidExtension,
  encodeSidExtension,
  SID_URI_PREFIX,
  sidFromUri,
  sidUri,
} from './sid-extension.js';

const BOB_SID = 'S-1-5-21-1004336348-1177238915-682003330-1106';
/**
 * extnValue written by OpenSSL 3.0's ASN1 generator from an independent description
 * (`SEQUENCE:{IMP:0,SEQUENCE:{OID:1.3.6.1.4.1.311.25.2.1, EXP:0,OCTETSTRING:<sid>}}`): the same
 * layout AD CS puts into certificates since KB5014754 (30 3f a0 3d 06 0a … a0 2f 04 2d "S-1-…").
 */
const BOB_EXTENSION_HEX =
  '303fa03d060a2b060104018237190201a02f042d532d312d352d32312d313030343333363334382d313137373233383931352d3638323030333333302d31313036';

const sidArbitrary = fc
  .tuple(
    fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
  )
  .map(([authority, subs]) => ['S-1', authority, ...subs].join('-'));

describe('SID strong mapping (KB5014754)', () => {
  it('encodes szOID_NTDS_CA_SECURITY_EXT byte for byte as OpenSSL/AD CS lay it out', () => {
    expect(encodeSidExtension(BOB_SID).toString('hex')).toBe(BOB_EXTENSION_HEX);
    expect(decodeSidExtension(Buffer.from(BOB_EXTENSION_HEX, 'hex'))).toBe(BOB_SID);
  });

  it('round-trips every valid SID through the extension and the URI', () => {
    fc.assert(
      fc.property(sidArbitrary, (sid) => {
        expect(decodeSidExtension(encodeSidExtension(sid))).toBe(sid);
        expect(sidFromUri(sidUri(sid))).toBe(sid);
      }),
    );
  });

  it('builds and reads the SAN URI form', () => {
    expect(sidUri(BOB_SID)).toBe(`tag:microsoft.com,2022-09-14:sid:${BOB_SID}`);
    expect(sidFromUri('https://example.test/x')).toBeUndefined();
    expect(() => sidFromUri(`${SID_URI_PREFIX}S-1-5-x`)).toThrow(DecodeError);
  });

  it.each([
    ['S-1-5-32-544', true],
    ['S-1-0', true],
    [`S-1-${2 ** 48 - 1}-4294967295`, true],
    ['S-1-5-21-01', false], // leading zero: Windows never prints one, a comparison would fail
    ['S-2-5-21', false],
    ['S-1-5-4294967296', false],
    [`S-1-${2 ** 48}`, false],
    [`S-1-5${'-1'.repeat(16)}`, false],
    ['s-1-5-21', false],
    ['S-1-5-21 ', false],
    ['', false],
  ])('checks SID text %s → %s', (sid, ok) => {
    if (ok) expect(checkSidText(sid)).toBe(sid);
    else expect(() => checkSidText(sid)).toThrow(DecodeError);
  });

  it.each([
    ['not a SEQUENCE', `31${BOB_EXTENSION_HEX.slice(2)}`],
    ['two names', `3082007e${BOB_EXTENSION_HEX.slice(4)}${BOB_EXTENSION_HEX.slice(4)}`],
    ['empty sequence', '3000'],
    ['other type-id', BOB_EXTENSION_HEX.replace('2b060104018237190201', '2b060104018237140203')],
    ['UTF8String instead of OCTET STRING', BOB_EXTENSION_HEX.replace('042d532d', '0c2d532d')],
    ['bad SID text', BOB_EXTENSION_HEX.replace('042d532d31', '042d532d32')],
    ['trailing bytes', `${BOB_EXTENSION_HEX}00`],
  ])('refuses %s', (_name, hex) => {
    expect(() => decodeSidExtension(Buffer.from(hex, 'hex'))).toThrow(DecodeError);
  });

  it('throws DecodeError on arbitrary bytes, never anything else', () => {
    const valid = Buffer.from(BOB_EXTENSION_HEX, 'hex');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // single-byte mutations of a valid value reach the deeper branches
          fc
            .tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }))
            .map(([i, b]) => Uint8Array.from(valid).fill(b, i, i + 1)),
        ),
        (bytes) => {
          try {
            expect(decodeSidExtension(bytes)).toMatch(/^S-1-\d+(-\d+)*$/);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        },
      ),
    );
    expect(() => decodeSidExtension(Buffer.alloc(600, 0x30))).toThrow(/too large/);
  });
});
