import { DTLS_1_0, DtlsAlert, DtlsDecodeError } from './record.js';

/** Extension numbers the server reads or writes. */
export const ExtensionType = {
  extendedMasterSecret: 23,
  renegotiationInfo: 0xff01,
  /**
   * ocserv's private "application ID" extension (main.c TLS_EXT_APP_ID): the session's
   * X-DTLS-App-ID for clients that do not put it in the session_id field.
   */
  applicationId: 48018,
} as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
export const RENEGOTIATION_INFO_SCSV = 0x00ff;

export interface Extension {
  type: number;
  data: Buffer;
}

/**
 * A DTLS ClientHello (RFC 6347 §4.2.1, RFC 5246 §7.4.1.2):
 *
 *   client_version(2) random(32) session_id<0..32> cookie<0..2^8-1>
 *   cipher_suites<2..2^16-2> compression_methods<1..2^8-1> extensions<0..2^16-1> (optional)
 *
 * `parameters` is everything but the cookie, in wire order, the bytes the cookie is computed
 * over (the second ClientHello must repeat them exactly, §4.2.1).
 */
export interface ClientHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  extensions: Extension[];
  parameters: Buffer;
}

/** Largest ClientHello body parsed (openconnect's are under 300 bytes; post-quantum key shares ~1.3 KiB). */
export const MAX_CLIENT_HELLO = 8192;

class Reader {
  at = 0;
  constructor(
    readonly bytes: Buffer,
    private readonly what: string,
  ) {}

  take(n: number): Buffer {
    if (this.at + n > this.bytes.length) throw new DtlsDecodeError(`${this.what} cut short`);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    return this.take(2).readUInt16BE(0);
  }

  vector8(): Buffer {
    return this.take(this.u8());
  }

  vector16(): Buffer {
    return this.take(this.u16());
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }
}

export function parseClientHello(body: Buffer): ClientHello {
  if (body.length > MAX_CLIENT_HELLO) throw new DtlsDecodeError(`ClientHello of ${body.length} bytes`);
  const r = new Reader(body, 'ClientHello');
  const version = r.u16();
  // DTLS versions count down: 0xfeff is 1.0, 0xfefd is 1.2 (RFC 6347 §4.1).
  if (version > DTLS_1_0 || version < 0xfe00) {
    throw new DtlsDecodeError(`ClientHello version 0x${version.toString(16)}`, DtlsAlert.protocolVersion);
  }
  const random = r.take(32);
  const sessionId = r.vector8();
  if (sessionId.length > 32) throw new DtlsDecodeError(`session_id of ${sessionId.length} bytes`);
  const cookieStart = r.at;
  const cookie = r.vector8();
  const afterCookie = r.at;
  const suites = r.vector16();
  if (suites.length < 2 || suites.length % 2 !== 0) {
    throw new DtlsDecodeError(`cipher_suites of ${suites.length} bytes`);
  }
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  const compressionMethods = r.vector8();
  if (compressionMethods.length < 1) throw new DtlsDecodeError('no compression methods');
  const extensions: Extension[] = [];
  if (r.remaining > 0) {
    const block = new Reader(r.vector16(), 'ClientHello extensions');
    const seen = new Set<number>();
    while (block.remaining > 0) {
      const type = block.u16();
      const data = block.vector16();
      // RFC 5246 §7.4.1.4: no two extensions of the same type.
      if (seen.has(type)) throw new DtlsDecodeError(`extension ${type} twice`, DtlsAlert.illegalParameter);
      seen.add(type);
      extensions.push({ type, data });
    }
  }
  if (r.remaining > 0) throw new DtlsDecodeError('bytes after the ClientHello extensions');
  const parameters = Buffer.concat([body.subarray(0, cookieStart), body.subarray(afterCookie)]);
  return { version, random, sessionId, cookie, cipherSuites, compressionMethods, extensions, parameters };
}

export function findExtension(hello: ClientHello, type: number): Buffer | undefined {
  for (const e of hello.extensions) if (e.type === type) return e.data;
  return undefined;
}

/**
 * The application ID a ClientHello carries: ocserv's extension 48018 (an opaque<1..2^8-1>) when
 * present, else the session_id, where openconnect 8+ puts X-DTLS-App-ID (gnutls-dtls.c
 * start_dtls_psk_handshake: gnutls_session_set_id) and the legacy protocol the
 * X-DTLS-Session-ID it resumes. Undefined when neither carries one.
 */
export function applicationIdOf(hello: ClientHello): Buffer | undefined {
  const ext = findExtension(hello, ExtensionType.applicationId);
  if (ext) {
    if (ext.length < 2 || ext[0]! + 1 !== ext.length)
      throw new DtlsDecodeError('malformed application ID extension');
    return ext.subarray(1);
  }
  return hello.sessionId.length > 0 ? hello.sessionId : undefined;
}

/** HelloVerifyRequest (RFC 6347 §4.2.1): server_version is DTLS 1.0 whatever will be negotiated. */
export function encodeHelloVerifyRequest(cookie: Uint8Array): Buffer {
  if (cookie.length > 255) throw new RangeError('cookie longer than 255 bytes');
  const body = Buffer.allocUnsafe(3 + cookie.length);
  body.writeUInt16BE(DTLS_1_0, 0);
  body[2] = cookie.length;
  body.set(cookie, 3);
  return body;
}

export interface ServerHelloFields {
  version: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  extensions: Extension[];
}

/** ServerHello body (RFC 5246 §7.4.1.3); the extensions block is left out when empty. */
export function encodeServerHello(f: ServerHelloFields): Buffer {
  if (f.random.length !== 32) throw new RangeError('ServerHello random must be 32 bytes');
  if (f.sessionId.length > 32) throw new RangeError('session_id longer than 32 bytes');
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(2);
  head.writeUInt16BE(f.version, 0);
  parts.push(head, Buffer.from(f.random), Buffer.of(f.sessionId.length), Buffer.from(f.sessionId));
  const tail = Buffer.allocUnsafe(3);
  tail.writeUInt16BE(f.cipherSuite, 0);
  tail[2] = 0; // compression: null
  parts.push(tail);
  if (f.extensions.length > 0) {
    const exts: Buffer[] = [];
    for (const e of f.extensions) {
      const h = Buffer.allocUnsafe(4);
      h.writeUInt16BE(e.type, 0);
      h.writeUInt16BE(e.data.length, 2);
      exts.push(h, e.data);
    }
    const block = Buffer.concat(exts);
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

/** ClientKeyExchange of a plain PSK suite (RFC 4279 §2): psk_identity<0..2^16-1>. */
export function parsePskClientKeyExchange(body: Buffer, maxIdentity = 128): Buffer {
  const r = new Reader(body, 'ClientKeyExchange');
  const identity = r.vector16();
  if (r.remaining > 0) throw new DtlsDecodeError('bytes after the PSK identity');
  if (identity.length > maxIdentity) {
    throw new DtlsDecodeError(`PSK identity of ${identity.length} bytes`, DtlsAlert.illegalParameter);
  }
  return identity;
}
