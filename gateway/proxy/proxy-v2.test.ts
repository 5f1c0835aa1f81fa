import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import {
  encodeProxyV2,
  MAX_PROXY_V2_BODY,
  PROXY_V2_FIXED_LENGTH,
  ProxyHeaderError,
  type ProxyV2Parse,
  parseProxyV2,
  startsLikeProxyV2,
} from './proxy-v2.js';

const SIG = '0d0a0d0a000d0a515549540a';
/** TCP over IPv4, 192.0.2.10:51234 → 198.51.100.1:443, as `send-proxy-v2` writes it. */
const TCP4 = `${SIG}2111000cc000020ac6336401c82201bb`;
/** TCP over IPv6, 2001:db8::7:40000 → 2001:db8::1:443, then a NOOP TLV of 2 bytes. */
const TCP6_NOOP = `${SIG}21210029${'20010db8000000000000000000000007'}${'20010db8000000000000000000000001'}9c4001bb040002abcd`;
/** A health check from the balancer itself: LOCAL, no addresses. */
const LOCAL = `${SIG}20000000`;

const hex = (h: string) => Buffer.from(h, 'hex');

function complete(parse: ProxyV2Parse) {
  if (!parse.complete) throw new Error(`incomplete, needs ${parse.needed}`);
  return parse;
}

describe('parseProxyV2', () => {
  it.each([
    [
      'tcp4',
      TCP4,
      'proxy',
      'inet',
      { address: '192.0.2.10', port: 51234 },
      { address: '198.51.100.1', port: 443 },
    ],
    [
      'tcp6',
      TCP6_NOOP,
      'proxy',
      'inet6',
      { address: '2001:db8::7', port: 40000 },
      { address: '2001:db8::1', port: 443 },
    ],
    ['local', LOCAL, 'local', 'unspec', undefined, undefined],
  ])('%s', (_name, bytes, command, family, source, destination) => {
    const parsed = complete(parseProxyV2(hex(bytes)));
    expect(parsed.length).toBe(hex(bytes).length);
    expect(parsed.header).toMatchObject({ command, family });
    expect(parsed.header.source).toEqual(source);
    expect(parsed.header.destination).toEqual(destination);
  });

  it('leaves the client stream after the header untouched', () => {
    const stream = Buffer.concat([hex(TCP4), hex('160301')]);
    expect(complete(parseProxyV2(stream)).length).toBe(28);
  });

  it('says how many bytes it needs while incomplete', () => {
    expect(parseProxyV2(hex(SIG.slice(0, 10)))).toEqual({ complete: false, needed: PROXY_V2_FIXED_LENGTH });
    expect(parseProxyV2(hex(TCP4).subarray(0, 17))).toEqual({ complete: false, needed: 28 });
  });

  it.each([
    ['a TLS ClientHello', '16030100c8', 'signature'],
    ['PROXY v1 text', Buffer.from('PROXY TCP4 1.2.3.4').toString('hex'), 'signature'],
    ['version 1 in the binary form', `${SIG}1111000c`, 'version'],
    ['command 2', `${SIG}2211000c`, 'command'],
    ['a body over the limit', `${SIG}2111${(MAX_PROXY_V2_BODY + 1).toString(16).padStart(4, '0')}`, 'length'],
    ['family 5 on PROXY', `${SIG}21510000`, 'family'],
    ['an inet body too short for its addresses', `${SIG}21110004c000020a`, 'length'],
    ['a TLV overrunning the body', `${SIG}20000004040009ab`, 'tlv'],
    ['stray bytes after the TLVs', `${SIG}20000002ffff`, 'tlv'],
    ['a CRC32C TLV of the wrong size', `${SIG}2000000503000201ff`, 'crc'],
  ])('refuses %s', (_name, bytes, check) => {
    expect(() => parseProxyV2(hex(bytes))).toThrow(ProxyHeaderError);
    try {
      parseProxyV2(hex(bytes));
    } catch (error) {
      expect((error as ProxyHeaderError).check).toBe(check);
    }
  });

  it('accepts any protocol byte on LOCAL, as §2.2 says to ignore it', () => {
    expect(complete(parseProxyV2(hex(`${SIG}20ff0000`))).header.command).toBe('local');
  });

  it('verifies a CRC32C TLV and refuses a header changed after it was computed', () => {
    const header = encodeProxyV2({
      command: 'proxy',
      source: { address: '192.0.2.10', port: 51234 },
      destination: { address: '198.51.100.1', port: 443 },
      crc: true,
    });
    expect(complete(parseProxyV2(header)).header.source?.address).toBe('192.0.2.10');
    header[19] = header[19]! ^ 1; // the last byte of the source address
    expect(() => parseProxyV2(header)).toThrow(/CRC32C mismatch/);
  });
});

describe('crc32c', () => {
  // RFC 3720 §B.4 check value: CRC-32C of "123456789".
  it('has the Castagnoli check value', () => expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283));
});

describe('startsLikeProxyV2', () => {
  it.each([
    ['', true],
    ['0d', true],
    ['0d0a0d0a000d0a515549540a21', true],
    ['16', false],
    ['0d0a0d0a0d', false],
  ])('%s → %s', (bytes, expected) => expect(startsLikeProxyV2(hex(bytes))).toBe(expected));
});

const endpoint = (kind: 'v4' | 'v6') =>
  fc.record({
    address: kind === 'v4' ? fc.ipV4() : fc.ipV6(),
    port: fc.nat(65535),
  });
const headerSpec = fc.oneof(
  fc.constant({ command: 'local' as const }),
  fc.constantFrom<'v4' | 'v6'>('v4', 'v6').chain((kind) =>
    fc.record({
      command: fc.constant('proxy' as const),
      source: endpoint(kind),
      destination: endpoint(kind),
      tlvs: fc.array(
        fc.record({ type: fc.integer({ min: 0x20, max: 0xff }), value: fc.uint8Array({ maxLength: 40 }) }),
        {
          maxLength: 4,
        },
      ),
      crc: fc.boolean(),
    }),
  ),
);

describe('properties', () => {
  it('decodes what it encodes, whatever the split of the bytes', () => {
    fc.assert(
      fc.property(headerSpec, fc.uint8Array({ maxLength: 8 }), (spec, tail) => {
        const header = encodeProxyV2(spec);
        const stream = Buffer.concat([header, tail]);
        for (let cut = 0; cut < header.length; cut++) {
          const partial = parseProxyV2(stream.subarray(0, cut));
          expect(partial.complete).toBe(false);
          if (!partial.complete) expect(partial.needed).toBeGreaterThan(cut);
        }
        const parsed = complete(parseProxyV2(stream));
        expect(parsed.length).toBe(header.length);
        expect(parsed.header.command).toBe(spec.command);
        if (spec.command === 'proxy') {
          expect(parsed.header.source?.port).toBe(spec.source.port);
          expect(parsed.header.destination?.port).toBe(spec.destination.port);
          expect(encodeProxyV2({ ...spec, ...parsed.header, tlvs: spec.tlvs, crc: spec.crc })).toEqual(
            header,
          );
        }
      }),
    );
  });

  it('throws only ProxyHeaderError on mutated headers', () => {
    fc.assert(
      fc.property(headerSpec, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), (spec, flips) => {
        const bytes = encodeProxyV2(spec);
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        try {
          parseProxyV2(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProxyHeaderError);
        }
      }),
    );
  });
});
