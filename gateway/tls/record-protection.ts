/**
 * Record protection for one direction of a TLS 1.2 or 1.3 connection with an AEAD suite, on top
 * of Node's OpenSSL EVP contexts (evp.ts). Each object owns one EVP_CIPHER_CTX, keyed once.
 *
 * TLS 1.2 uses OpenSSL's own TLS record mode, the one libssl uses (EVP_CTRL_AEAD_TLS1_AAD then
 * one EVP_Cipher over the whole record body, in place): two FFI calls per record.
 * - AES-GCM (RFC 5288 §3): nonce = 4-byte salt ‖ 8-byte explicit nonce carried in the record;
 *   OpenSSL generates the explicit part (a counter from a random start: unique per key, which is
 *   all GCM needs) and reads it back when opening. AAD = seq ‖ type ‖ version ‖ plaintext length.
 * - ChaCha20-Poly1305 (RFC 7905 §2): nonce = 12-byte IV XOR seq, no explicit nonce.
 * TLS 1.3 (RFC 8446 §5.2-5.4): nonce = IV XOR seq, AAD = the record header, the content type
 * travels inside the encryption (TLSInnerPlaintext), outer type is always application_data:
 * five FFI calls per record.
 */
import type { CipherSuite } from './cipher-suites.js';
import { GCM_EXPLICIT_NONCE_LENGTH, TAG_LENGTH } from './cipher-suites.js';
import { type Evp, EvpCtrl } from './evp.js';
import type { TrafficKeys } from './key-schedule.js';
import {
  AlertDescription,
  type ContentType,
  RECORD_HEADER_LENGTH,
  TlsRecordError,
  ContentType as Type,
  writeRecordHeader,
} from './record.js';

export interface RecordSealer {
  /** Bytes between the record header and the plaintext (the TLS 1.2 GCM explicit nonce). */
  readonly prefix: number;
  /** Bytes after the plaintext: the tag, plus the inner content type in TLS 1.3. */
  readonly suffix: number;
  /** The sequence number the next record gets. */
  readonly sequence: number;
  /** Sets the next sequence number (at the takeover from OpenSSL). */
  seek(sequence: number): void;
  /**
   * Protects one record in place. The plaintext (`length` bytes) is already at
   * `at + RECORD_HEADER_LENGTH + prefix`; `suffix` bytes after it must be writable. Writes the
   * header, nonce, ciphertext and tag; returns the record's total length. `address` is
   * evp.address(buffer).
   */
  seal(buffer: Buffer, address: number, at: number, type: ContentType, length: number): number;
  dispose(): void;
}

export interface RecordOpener {
  readonly sequence: number;
  /** Sets the sequence number the next record is opened with (at the takeover from OpenSSL). */
  seek(sequence: number): void;
  /**
   * Authenticates and decrypts the record `buffer[start, end)` in place. On success returns true
   * and sets `type`, `plainStart` and `plainEnd`; false when the record does not authenticate
   * (bad_record_mac). Throws TlsRecordError for records malformed before decryption.
   */
  open(buffer: Buffer, address: number, start: number, end: number): boolean;
  /** Content type of the last opened record (the inner type in TLS 1.3). */
  type: number;
  plainStart: number;
  plainEnd: number;
  dispose(): void;
}

/**
 * Sequence numbers are 64-bit (RFC 5246 §6.1); a JS number is exact to 2^53. A connection that
 * reaches 2^48 records (a century at a million records per second) is closed rather than wrapped.
 */
export const MAX_SEQUENCE = 2 ** 48;
const TWO_32 = 2 ** 32;

/**
 * One scratch area for AAD, nonces and out-lengths, shared by every context in this thread
 * (calls are synchronous, so they never interleave): nothing per session. Layout: AAD at 0 (13
 * bytes), nonce at 16 (12 bytes), out-length int at 32.
 */
let scratch: { bytes: Buffer; address: number } | undefined;
function scratchOf(evp: Evp): { bytes: Buffer; address: number } {
  if (!scratch) {
    const bytes = Buffer.alloc(64);
    scratch = { bytes, address: evp.address(bytes) };
  }
  return scratch;
}
const AAD = 0;
const NONCE = 16;
const OUTL = 32;

/** Frees contexts whose owner was dropped without dispose() (a safety net, not the normal path). */
const orphans = new FinalizationRegistry<{ evp: Evp; ctx: number }>(({ evp, ctx }) => evp.freeContext(ctx));

function writeSequence(target: Buffer, at: number, seq: number): void {
  target.writeUInt32BE(Math.floor(seq / TWO_32), at);
  target.writeUInt32BE(seq >>> 0, at + 4);
}

/**
 * nonce = iv XOR (seq left-padded to 12 bytes), RFC 8446 §5.3 and RFC 7905 §2. The IV is given
 * as three big-endian words.
 */
function writeXorNonce(target: Buffer, at: number, iv: Uint32Array, seq: number): void {
  target.writeUInt32BE(iv[0]!, at);
  target.writeUInt32BE((iv[1]! ^ Math.floor(seq / TWO_32)) >>> 0, at + 4);
  target.writeUInt32BE((iv[2]! ^ seq) >>> 0, at + 8);
}

function ivWords(iv: Buffer): Uint32Array {
  return Uint32Array.of(iv.readUInt32BE(0), iv.readUInt32BE(4), iv.readUInt32BE(8));
}

abstract class Protection {
  protected ctx: number;
  protected seq: number;
  private readonly token = {};

  constructor(
    protected readonly evp: Evp,
    protected readonly suite: CipherSuite,
    keys: TrafficKeys,
    protected readonly encrypt: boolean,
    initialSequence: number,
  ) {
    this.ctx = this.keyed(keys);
    this.seq = initialSequence;
  }

  get sequence(): number {
    return this.seq;
  }

  seek(sequence: number): void {
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
      throw new RangeError(`sequence number ${sequence}`);
    }
    this.seq = sequence;
  }

  dispose(): void {
    if (this.ctx === 0) return;
    orphans.unregister(this.token);
    this.evp.freeContext(this.ctx);
    this.ctx = 0;
  }

  protected keyed(keys: TrafficKeys): number {
    const ctx = this.evp.newContext(this.suite.aead, keys.key, this.encrypt);
    orphans.register(this, { evp: this.evp, ctx }, this.token);
    return ctx;
  }

  protected nextSequence(): number {
    if (this.ctx === 0)
      throw new TlsRecordError(AlertDescription.internalError, 'record protection disposed');
    if (this.seq >= MAX_SEQUENCE) {
      throw new TlsRecordError(AlertDescription.internalError, 'sequence numbers exhausted');
    }
    return this.seq++;
  }
}

/** TLS 1.2 AEAD record protection in OpenSSL's TLS record mode. */
class Tls12Protection extends Protection implements RecordSealer, RecordOpener {
  readonly prefix: number;
  readonly suffix = TAG_LENGTH;
  type = 0;
  plainStart = 0;
  plainEnd = 0;

  constructor(evp: Evp, suite: CipherSuite, keys: TrafficKeys, encrypt: boolean, initialSequence: number) {
    super(evp, suite, keys, encrypt, initialSequence);
    const gcm = suite.aead !== 'chacha20-poly1305';
    this.prefix = gcm ? GCM_EXPLICIT_NONCE_LENGTH : 0;
    // The salt (GCM) or the whole IV (ChaCha20); for sealing GCM, OpenSSL then draws a random
    // start for the explicit part and counts up from it.
    const s = scratchOf(evp);
    keys.iv.copy(s.bytes, NONCE);
    if (evp.ctrl(this.ctx, EvpCtrl.setIvFixed, keys.iv.length, s.address + NONCE) !== 1) {
      this.dispose();
      throw new Error('EVP_CTRL_AEAD_SET_IV_FIXED failed');
    }
  }

  /** The 13-byte TLS 1.2 AAD; `length` as OpenSSL's TLS mode wants it (it corrects for nonce and tag). */
  private setAad(type: number, length: number): void {
    const s = scratchOf(this.evp);
    writeSequence(s.bytes, AAD, this.nextSequence());
    s.bytes[AAD + 8] = type;
    s.bytes[AAD + 9] = 3;
    s.bytes[AAD + 10] = 3;
    s.bytes[AAD + 11] = length >>> 8;
    s.bytes[AAD + 12] = length & 0xff;
    if (this.evp.ctrl(this.ctx, EvpCtrl.tls1Aad, 13, s.address + AAD) !== TAG_LENGTH) {
      throw new TlsRecordError(AlertDescription.internalError, 'EVP_CTRL_AEAD_TLS1_AAD failed');
    }
  }

  seal(buffer: Buffer, address: number, at: number, type: ContentType, length: number): number {
    this.setAad(type, this.prefix + length);
    const body = this.prefix + length + TAG_LENGTH;
    const p = address + at + RECORD_HEADER_LENGTH;
    if (this.evp.cipher(this.ctx, p, p, body) < 0) {
      throw new TlsRecordError(AlertDescription.internalError, 'EVP_Cipher failed to seal');
    }
    writeRecordHeader(buffer, at, type, body);
    return RECORD_HEADER_LENGTH + body;
  }

  open(buffer: Buffer, address: number, start: number, end: number): boolean {
    const fragment = end - start - RECORD_HEADER_LENGTH;
    if (fragment < this.prefix + TAG_LENGTH) {
      throw new TlsRecordError(AlertDescription.badRecordMac, `protected fragment of ${fragment} bytes`);
    }
    // The AAD carries the version as 3,3 (RFC 5246 §6.2.3.3): any other header is refused here.
    if (buffer[start + 1] !== 3 || buffer[start + 2] !== 3) {
      throw new TlsRecordError(AlertDescription.decodeError, 'record version is not TLS 1.2');
    }
    const type = buffer[start]!;
    this.setAad(type, fragment);
    const p = address + start + RECORD_HEADER_LENGTH;
    if (this.evp.cipher(this.ctx, p, p, fragment) < 0) return false;
    this.type = type;
    this.plainStart = start + RECORD_HEADER_LENGTH + this.prefix;
    this.plainEnd = end - TAG_LENGTH;
    return true;
  }
}

/** TLS 1.3 record protection (RFC 8446 §5.2). */
class Tls13Protection extends Protection implements RecordSealer, RecordOpener {
  readonly prefix = 0;
  /** Inner content type + tag; no padding is added. */
  readonly suffix = 1 + TAG_LENGTH;
  type = 0;
  plainStart = 0;
  plainEnd = 0;
  private iv: Uint32Array;

  constructor(evp: Evp, suite: CipherSuite, keys: TrafficKeys, encrypt: boolean, initialSequence: number) {
    super(evp, suite, keys, encrypt, initialSequence);
    this.iv = ivWords(keys.iv);
  }

  /** New keys after a KeyUpdate (RFC 8446 §4.6.3): the sequence number starts again at 0. */
  rekey(keys: TrafficKeys): void {
    this.dispose();
    this.ctx = this.keyed(keys);
    this.iv = ivWords(keys.iv);
    this.seq = 0;
  }

  private start(): { bytes: Buffer; address: number } {
    const s = scratchOf(this.evp);
    writeXorNonce(s.bytes, NONCE, this.iv, this.nextSequence());
    if (this.evp.setIv(this.ctx, s.address + NONCE, this.encrypt) !== 1) {
      throw new TlsRecordError(AlertDescription.internalError, 'EVP_CipherInit_ex (nonce) failed');
    }
    return s;
  }

  seal(buffer: Buffer, address: number, at: number, type: ContentType, length: number): number {
    const inner = length + 1;
    const body = inner + TAG_LENGTH;
    buffer[at + RECORD_HEADER_LENGTH + length] = type;
    writeRecordHeader(buffer, at, Type.applicationData, body);
    const s = this.start();
    const { evp, ctx } = this;
    const p = address + at + RECORD_HEADER_LENGTH;
    const outl = s.address + OUTL;
    const ok =
      evp.update(ctx, 0, outl, address + at, RECORD_HEADER_LENGTH) === 1 &&
      evp.update(ctx, p, outl, p, inner) === 1 &&
      evp.final(ctx, p + inner, outl) === 1 &&
      evp.ctrl(ctx, EvpCtrl.getTag, TAG_LENGTH, p + inner) === 1;
    if (!ok) throw new TlsRecordError(AlertDescription.internalError, 'EVP failed to seal');
    return RECORD_HEADER_LENGTH + body;
  }

  open(buffer: Buffer, address: number, start: number, end: number): boolean {
    const fragment = end - start - RECORD_HEADER_LENGTH;
    if (buffer[start] !== Type.applicationData) {
      throw new TlsRecordError(
        AlertDescription.unexpectedMessage,
        `unprotected record of type ${buffer[start]} after the handshake`,
      );
    }
    if (fragment < 1 + TAG_LENGTH) {
      throw new TlsRecordError(AlertDescription.badRecordMac, `protected fragment of ${fragment} bytes`);
    }
    const s = this.start();
    const { evp, ctx } = this;
    const p = address + start + RECORD_HEADER_LENGTH;
    const cipherLength = fragment - TAG_LENGTH;
    const outl = s.address + OUTL;
    const ok =
      evp.update(ctx, 0, outl, address + start, RECORD_HEADER_LENGTH) === 1 &&
      evp.update(ctx, p, outl, p, cipherLength) === 1 &&
      evp.ctrl(ctx, EvpCtrl.setTag, TAG_LENGTH, p + cipherLength) === 1 &&
      evp.final(ctx, p + cipherLength, outl) === 1;
    if (!ok) return false;
    // TLSInnerPlaintext: content ‖ type ‖ zeros (RFC 8446 §5.4); the type is the last non-zero byte.
    const plainStart = start + RECORD_HEADER_LENGTH;
    let last = plainStart + cipherLength - 1;
    while (last >= plainStart && buffer[last] === 0) last--;
    if (last < plainStart) {
      throw new TlsRecordError(AlertDescription.unexpectedMessage, 'record without a content type');
    }
    this.type = buffer[last]!;
    this.plainStart = plainStart;
    this.plainEnd = last;
    return true;
  }
}

export type Tls13Sealer = RecordSealer & { rekey(keys: TrafficKeys): void };
export type Tls13Opener = RecordOpener & { rekey(keys: TrafficKeys): void };

export function createSealer(evp: Evp, suite: CipherSuite, keys: TrafficKeys, sequence = 0): RecordSealer {
  return suite.version === 'TLSv1.3'
    ? new Tls13Protection(evp, suite, keys, true, sequence)
    : new Tls12Protection(evp, suite, keys, true, sequence);
}

export function createOpener(evp: Evp, suite: CipherSuite, keys: TrafficKeys, sequence = 0): RecordOpener {
  return suite.version === 'TLSv1.3'
    ? new Tls13Protection(evp, suite, keys, false, sequence)
    : new Tls12Protection(evp, suite, keys, false, sequence);
}

/** The TLS 1.3 KeyUpdate hook of a sealer or opener made for a TLS 1.3 suite. */
export function canRekey(p: RecordSealer | RecordOpener): p is Tls13Sealer | Tls13Opener {
  return p instanceof Tls13Protection;
}
