import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readHandshakeFragments } from './handshake.js';
import {
  applicationIdOf,
  encodeHelloVerifyRequest,
  encodeServerHello,
  parseClientHello,
  parsePskClientKeyExchange,
} from './hello.js';
import { DtlsDecodeError, splitDatagram } from './record.js';

/**
 * gnutls-cli 3.7.9 --udp with openconnect's PSK-NEGOTIATE priority
 * ("NORMAL:-VERS-SSL3.0:+SHA256:%COMPAT:-VERS-TLS-ALL:+VERS-DTLS-ALL:-KX-ALL:+PSK"): its first
 * datagram, captured on a UDP socket.
 */
const gnutlsPskHello =
  '16feff00000000000000000084010000780000000000000078fefd78ea200e7df9f67af31c49cc82dfa8f3016382031679ba23b11d053e8d0b06880000001000a9ccabc0a5008d00a8c0a4008c00ae0100003e000500050100000000000d00220020040108090804040308070501080a0805050308080601080b080606030201020300230000ff01000100001c00024000';

function helloBody(hex: string): Buffer {
  const datagram = Buffer.from(hex, 'hex');
  const [record] = splitDatagram(datagram);
  const [f] = readHandshakeFragments(datagram.subarray(record!.start + 13, record!.end));
  return Buffer.from(f!.bytes);
}

describe('ClientHello', () => {
  it('reads a GnuTLS DTLS 1.2 PSK ClientHello', () => {
    const hello = parseClientHello(helloBody(gnutlsPskHello));
    expect(hello.version).toBe(0xfefd);
    expect(hello.random.toString('hex')).toBe(
      '78ea200e7df9f67af31c49cc82dfa8f3016382031679ba23b11d053e8d0b0688',
    );
    expect(hello.sessionId.length).toBe(0);
    expect(hello.cookie.length).toBe(0);
    expect(hello.cipherSuites).toEqual([0x00a9, 0xccab, 0xc0a5, 0x008d, 0x00a8, 0xc0a4, 0x008c, 0x00ae]);
    expect([...hello.compressionMethods]).toEqual([0]);
    expect(hello.extensions.map((e) => e.type)).toEqual([5, 13, 0x23, 0xff01, 0x1c]);
    expect(applicationIdOf(hello)).toBeUndefined();
  });

  it('leaves the cookie out of the parameters it is computed over', () => {
    const body = helloBody(gnutlsPskHello);
    const plain = parseClientHello(body);
    // The same hello with a 4-byte cookie: cookie<> sits after session_id (offset 2 + 32 + 1).
    const withCookie = Buffer.concat([body.subarray(0, 35), Buffer.of(4, 1, 2, 3, 4), body.subarray(36)]);
    const cookied = parseClientHello(withCookie);
    expect(cookied.cookie.toString('hex')).toBe('01020304');
    expect(cookied.parameters.equals(plain.parameters)).toBe(true);
    expect(plain.parameters.length).toBe(body.length - 1);
  });

  it('takes the application ID from extension 48018 before the session_id', () => {
    const body = helloBody(gnutlsPskHello);
    const sid = Buffer.alloc(32, 7);
    const ext = Buffer.from('bb92000403aabbcc', 'hex'); // 48018, opaque<1..255> = aabbcc
    const extLen = body.readUInt16BE(body.length - 62 - 2) + ext.length;
    const exts = body.subarray(body.length - 62);
    const rebuilt = Buffer.concat([
      body.subarray(0, 34),
      Buffer.of(32),
      sid,
      body.subarray(35, body.length - 62 - 2),
      Buffer.of(extLen >> 8, extLen & 0xff),
      exts,
      ext,
    ]);
    const hello = parseClientHello(rebuilt);
    expect(hello.sessionId.equals(sid)).toBe(true);
    expect(applicationIdOf(hello)?.toString('hex')).toBe('aabbcc');
    const noExt = parseClientHello(
      Buffer.concat([body.subarray(0, 34), Buffer.of(32), sid, body.subarray(35)]),
    );
    expect(applicationIdOf(noExt)?.equals(sid)).toBe(true);
  });

  it.each([
    ['TLS version', (b: Buffer) => Buffer.concat([Buffer.from('0303', 'hex'), b.subarray(2)])],
    [
      '33-byte session_id',
      (b: Buffer) => Buffer.concat([b.subarray(0, 34), Buffer.of(33), Buffer.alloc(33), b.subarray(35)]),
    ],
    [
      'odd cipher_suites',
      (b: Buffer) => Buffer.concat([b.subarray(0, 36), Buffer.of(0, 3, 0, 0xa8, 0), b.subarray(54)]),
    ],
    ['trailing bytes', (b: Buffer) => Buffer.concat([b, Buffer.of(0)])],
    [
      'duplicate extension',
      (b: Buffer) => {
        const ext = Buffer.from('ff0100010000170000ff01000100', 'hex');
        return Buffer.concat([b.subarray(0, 54), Buffer.of(0, ext.length), ext]);
      },
    ],
    ['cut body', (b: Buffer) => b.subarray(0, 40)],
    ['oversized body', () => Buffer.alloc(9000)],
  ])('refuses a ClientHello with a %s', (_what, mutate) => {
    expect(() => parseClientHello(mutate(helloBody(gnutlsPskHello)))).toThrow(DtlsDecodeError);
  });

  it('property: any bytes parse or fail with DtlsDecodeError, also the capture cut at every byte', () => {
    const body = helloBody(gnutlsPskHello);
    for (let cut = 0; cut < body.length; cut++) {
      try {
        parseClientHello(body.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(DtlsDecodeError);
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseClientHello(Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(DtlsDecodeError);
        }
      }),
    );
  });
});

describe('server messages', () => {
  it('encodes a HelloVerifyRequest with DTLS 1.0 as server_version (RFC 6347 §4.2.1)', () => {
    expect(encodeHelloVerifyRequest(Buffer.from('c0ffee', 'hex')).toString('hex')).toBe('feff03c0ffee');
  });

  it('encodes a ServerHello with and without extensions', () => {
    const random = Buffer.alloc(32, 0x11);
    const withExt = encodeServerHello({
      version: 0xfefd,
      random,
      sessionId: Buffer.alloc(0),
      cipherSuite: 0x00a8,
      extensions: [{ type: 0xff01, data: Buffer.of(0) }],
    });
    expect(withExt.toString('hex')).toBe(`fefd${'11'.repeat(32)}00${'00a800'}${'0005'}${'ff01000100'}`);
    const bare = encodeServerHello({
      version: 0xfefd,
      random,
      sessionId: Buffer.alloc(2, 9),
      cipherSuite: 0x009c,
      extensions: [],
    });
    expect(bare.toString('hex')).toBe(`fefd${'11'.repeat(32)}020909009c00`);
  });

  it('reads a PSK ClientKeyExchange identity within its limit', () => {
    expect(parsePskClientKeyExchange(Buffer.from('000370736b', 'hex')).toString()).toBe('psk');
    expect(() => parsePskClientKeyExchange(Buffer.from('000370736b00', 'hex'))).toThrow(DtlsDecodeError);
    expect(() => parsePskClientKeyExchange(Buffer.concat([Buffer.of(0, 200), Buffer.alloc(200)]))).toThrow(
      /identity/,
    );
  });
});
