import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import { HandshakeScanner, parseServerHello } from './server-hello.js';

// ServerHello bodies written by Node's OpenSSL 3.0 (captured through TlsConnection's observer).
const tls12 = Buffer.from(
  '030358b435e16ab671d6862a5bf7b81c73294c0e639179f8a2cc444f574e4752440100c02b000015ff01000100000b0004030001020023000000170000',
  'hex',
);
const tls13 = Buffer.from(
  '0303daafaf4325142ad20581befe62f7120531933be17411c96f6b36280f850ca26720903c5dd0422cdb98237ce78bd4a3e061ff07278e1e2096e87fe04674e509f587130200002e002b0002030400330024001d002072fc3f7d8c3f7e4b70e58311b030315cf73b3a18718bbe9b2900031f791cb074',
  'hex',
);

describe('parseServerHello', () => {
  it('reads version, random and cipher suite of a TLS 1.2 ServerHello', () => {
    const hello = parseServerHello(tls12);
    expect(hello).toMatchObject({ version: 0x0303, cipherSuite: 0xc02b, helloRetryRequest: false });
    expect(hello.random.toString('hex')).toBe(
      '58b435e16ab671d6862a5bf7b81c73294c0e639179f8a2cc444f574e47524401',
    );
  });

  it('takes the TLS 1.3 version from supported_versions', () => {
    expect(parseServerHello(tls13)).toMatchObject({ version: 0x0304, cipherSuite: 0x1302 });
  });

  it('recognises a HelloRetryRequest by its random (RFC 8446 §4.1.3)', () => {
    const hrr = Buffer.from(tls13);
    Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex').copy(hrr, 2);
    expect(parseServerHello(hrr).helloRetryRequest).toBe(true);
  });

  it.each([
    ['truncated', tls12.subarray(0, 30), /truncated/],
    ['a session id over 32 bytes', Buffer.concat([tls12.subarray(0, 34), Buffer.of(33)]), /session id of 33/],
    ['extensions longer than the message', tls12.subarray(0, tls12.length - 1), /extensions length/],
  ])('refuses %s', (_, body, message) => {
    expect(() => parseServerHello(body)).toThrow(message);
  });

  it('throws nothing but a DecodeError (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseServerHello(Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});

describe('HandshakeScanner', () => {
  const message = (type: number, body: Buffer) =>
    Buffer.concat([Buffer.of(type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff), body]);

  it('finds the wanted message across records and skips the rest without keeping it', () => {
    const flight = Buffer.concat([
      message(11, Buffer.alloc(5000)),
      message(2, tls12),
      message(14, Buffer.alloc(0)),
    ]);
    for (const cut of [1, 3, 4, 5000, 5004, 5010, flight.length - 1]) {
      const scanner = new HandshakeScanner(new Set([2]), 4096);
      const found: string[] = [];
      for (const part of [flight.subarray(0, cut), flight.subarray(cut)]) {
        scanner.push(part, (type, body) => found.push(`${type}:${body.toString('hex')}`));
      }
      expect(found).toEqual([`2:${tls12.toString('hex')}`]);
    }
  });

  it('refuses a wanted message over its limit', () => {
    const scanner = new HandshakeScanner(new Set([2]), 16);
    expect(() => scanner.push(message(2, tls12), () => undefined)).toThrow(/is 61 bytes/);
  });
});
