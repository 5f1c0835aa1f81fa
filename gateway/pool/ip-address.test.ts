import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIPv4, formatIPv6, parseCidr, parseIPv4, parseIPv6 } from './ip-address.js';

/** Node's URL parser prints IPv6 hosts in RFC 5952 form: an independent oracle for formatIPv6. */
function canonicalByUrl(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

describe('parseIPv4 / formatIPv4', () => {
  it.each([
    ['0.0.0.0', 0n],
    ['10.200.100.1', 0x0ac86401n],
    ['255.255.255.255', 0xffffffffn],
  ])('%s', (text, value) => {
    expect(parseIPv4(text)).toBe(value);
    expect(formatIPv4(value)).toBe(text);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', 'a.b.c.d'])(
    'rejects %j',
    (text) => expect(parseIPv4(text)).toBeUndefined(),
  );

  it('agrees with net.isIPv4 and round-trips', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(isIPv4(text)).toBe(true);
        expect(formatIPv4(parseIPv4(text)!)).toBe(text);
      }),
    );
  });
});

describe('parseIPv6 / formatIPv6', () => {
  it.each([
    ['::', 0n, '::'],
    ['::1', 1n, '::1'],
    ['fd00:200::', 0xfd000200n << 96n, 'fd00:200::'],
    ['FD00:0200:0:0:0:0:0:0001', (0xfd000200n << 96n) | 1n, 'fd00:200::1'],
    ['1:0:0:2:0:0:0:3', (1n << 112n) | (2n << 64n) | 3n, '1:0:0:2::3'],
    ['1:0:2:3:4:5:6:7', 0x0001000000020003000400050006_0007n, '1:0:2:3:4:5:6:7'],
    ['::ffff:10.0.0.1', 0xffff0a000001n, '::ffff:a00:1'],
  ])('%s', (text, value, canonical) => {
    expect(parseIPv6(text)).toBe(value);
    expect(formatIPv6(value)).toBe(canonical);
  });

  it.each([
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'g::',
    '1::2:',
    '::1.2.3',
  ])('rejects %j', (text) => expect(parseIPv6(text)).toBeUndefined());

  it('parses what net.isIPv6 accepts and formats as the URL parser does', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        expect(isIPv6(text)).toBe(true);
        const value = parseIPv6(text);
        expect(value).toBeDefined();
        expect(formatIPv6(value!)).toBe(canonicalByUrl(text));
        expect(parseIPv6(formatIPv6(value!))).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('formats arbitrary 128-bit values canonically', () => {
    const sparse = fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0x200), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(sparse, (groups) => {
        const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
        const text = formatIPv6(value);
        expect(text).toBe(canonicalByUrl(text));
        expect(parseIPv6(text)).toBe(value);
      }),
    );
  });
});

describe('parseCidr', () => {
  it('parses both families', () => {
    expect(parseCidr('10.200.100.0/24')).toEqual({
      family: 4,
      network: 0x0ac86400n,
      prefixLength: 24,
      size: 256n,
    });
    expect(parseCidr('fd00:200::/112')).toMatchObject({ family: 6, prefixLength: 112, size: 65536n });
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', 'x/24', 'fd00::/129', '10.0.0.0/024x'])(
    'rejects %j',
    (text) => expect(() => parseCidr(text)).toThrow(/invalid CIDR/),
  );

  it('rejects host bits and suggests the network', () => {
    expect(() => parseCidr('10.0.0.5/24')).toThrow(/host bits set.*10\.0\.0\.0\/24/);
  });
});
