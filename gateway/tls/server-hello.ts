import { AlertDescription, TlsRecordError } from './record.js';

/** What the record layer needs from a ServerHello (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3). */
export interface ServerHello {
  /** 0x0303 for TLS 1.2, 0x0304 for TLS 1.3 (from supported_versions). */
  readonly version: number;
  readonly random: Buffer;
  readonly cipherSuite: number;
  /** A TLS 1.3 HelloRetryRequest (a ServerHello with the special random, RFC 8446 §4.1.3). */
  readonly helloRetryRequest: boolean;
}

export const HandshakeType = { serverHello: 2 } as const;

/** SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3. */
const helloRetryRandom = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);
const supportedVersions = 43;

function fail(detail: string): never {
  throw new TlsRecordError(AlertDescription.decodeError, `ServerHello: ${detail}`);
}

/** Parses the body of a ServerHello handshake message (after its 4-byte header). */
export function parseServerHello(body: Buffer): ServerHello {
  let pos = 0;
  const need = (n: number, what: string) => {
    if (pos + n > body.length) fail(`truncated in ${what}`);
  };
  need(2 + 32 + 1, 'version and random');
  const legacyVersion = body.readUInt16BE(0);
  const random = Buffer.from(body.subarray(2, 34));
  pos = 34;
  const sessionIdLength = body[pos++]!;
  if (sessionIdLength > 32) fail(`session id of ${sessionIdLength} bytes`);
  need(sessionIdLength + 3, 'session id, cipher suite and compression');
  pos += sessionIdLength;
  const cipherSuite = body.readUInt16BE(pos);
  pos += 2;
  if (body[pos++] !== 0) fail('compression is not null');
  let version = legacyVersion;
  if (pos < body.length) {
    need(2, 'extensions length');
    const end = pos + 2 + body.readUInt16BE(pos);
    pos += 2;
    if (end !== body.length) fail('extensions length does not match the message');
    while (pos < end) {
      need(4, 'extension header');
      const type = body.readUInt16BE(pos);
      const length = body.readUInt16BE(pos + 2);
      pos += 4;
      need(length, 'extension body');
      if (type === supportedVersions) {
        if (length !== 2) fail('supported_versions is not one version');
        version = body.readUInt16BE(pos);
      }
      pos += length;
    }
  }
  return { version, random, cipherSuite, helloRetryRequest: random.equals(helloRetryRandom) };
}

/**
 * Reassembles handshake messages from the plaintext handshake records of one direction (a
 * message may span records, a record may hold several messages) and hands over the bodies of
 * the message types asked for; other messages are skipped without being buffered.
 */
export class HandshakeScanner {
  private readonly header = Buffer.alloc(4);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private skip = 0;
  private type = 0;

  constructor(
    private readonly wanted: ReadonlySet<number>,
    /** Longest wanted message body accepted. */
    private readonly maxBody: number,
  ) {}

  push(fragment: Buffer, onMessage: (type: number, body: Buffer) => void): void {
    let pos = 0;
    while (pos < fragment.length) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, fragment.length - pos);
        this.skip -= take;
        pos += take;
        continue;
      }
      if (this.body) {
        const take = Math.min(this.body.length - this.bodyFilled, fragment.length - pos);
        fragment.copy(this.body, this.bodyFilled, pos, pos + take);
        this.bodyFilled += take;
        pos += take;
        if (this.bodyFilled === this.body.length) {
          const body = this.body;
          this.body = null;
          onMessage(this.type, body);
        }
        continue;
      }
      const take = Math.min(4 - this.headerFilled, fragment.length - pos);
      fragment.copy(this.header, this.headerFilled, pos, pos + take);
      this.headerFilled += take;
      pos += take;
      if (this.headerFilled < 4) continue;
      this.headerFilled = 0;
      this.type = this.header[0]!;
      const length = this.header.readUIntBE(1, 3);
      if (!this.wanted.has(this.type)) this.skip = length;
      else if (length > this.maxBody) fail(`message of type ${this.type} is ${length} bytes`);
      else if (length === 0) onMessage(this.type, Buffer.alloc(0));
      else {
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
    }
  }
}
