/**
 * Record protection for one direction of a TLS 1.2 or 1.3 connection with an AEAD suite, on top
 * of Node's OpenSSL EVP contexts (evp.ts). Each object owns one EVP_CIPHER_CTX, keyed once.
 *
 * TLS 1.2 uses OpenSSL's own TLS record mode, the one libssl uses (the TLS AAD parameter then
 * one EVP_Cipher over the whole record body, in place): two FFI calls per record.
 * - AES-GCM (RFC 5288 §3): nonce = 4-byte salt ‖ 8-byte explicit nonce carried in the record;
 *   OpenSSL generates the explicit part (a counter from a random start: unique per key, which is
 *   all GCM needs) and reads it back when opening. AAD = seq ‖ type ‖ version ‖ plaintext length.
 * - ChaCha20-Poly1305 (RFC 7905 §2): nonce = 12-byte IV XOR seq, no explicit nonce.
 * TLS 1.3 (RFC 8446 §5.2-5.4): nonce = IV XOR seq, AAD = the record header, the content type
 * travels inside the encryption (TLSInnerPlaintext), outer type is always application_data:
 * five FFI calls to seal a record, four to open one with AES-GCM (nonce and tag in one call).
 *
 * Nonce, AAD and tag go in as OpenSSL 3 parameters (ossl-param.ts) rather than through
 * EVP_CIPHER_CTX_ctrl or EVP_CipherInit_ex, which cost 2-3 times as much per record.
 */
import type { CipherSuite } from './cipher-suites.js';
import { GCM_EXPLICIT_NONCE_LENGTH, TAG_LENGTH } from './cipher-suites.js';
import { type Evp, EvpCtrl } from './evp.js';
import type { TrafficKeys } from './key-schedule.js';
import { OctetParams, ParamKey } from './ossl-param.js';
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
  /** Frees the EVP context until the next record (an idle tunnel); the state is kept. */
  release(): void;
  readonly holdsContext: boolean;
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
  /** Frees the EVP context until the next record (an idle tunnel); the state is kept. */
  release(): void;
  readonly holdsContext: boolean;
  dispose(): void;
}

/**
 * Sequence numbers are 64-bit (RFC 5246 §6.1); a JS number is exact to 2^53. A connection that
 * reaches 2^48 records (a century at a million records per second) is closed rather than wrapped.
 */
export const MAX_SEQUENCE = 2 ** 48;
const TWO_32 = 2 ** 32;
const TLS12_VERSION = 0x0303;

/**
 * One scratch area for AAD, nonces and out-lengths, shared by every context in this thread
 * (calls are synchronous, so they never interleave): nothing per session. Layout: AAD at 0 (13
 * bytes), nonce at 16 (12 bytes), out-length int at 32.
 */
interface Scratch {
  bytes: Buffer;
  /**
   * The same bytes for the per-record words: DataView stores compile to plain stores, where
   * Buffer#writeUInt32BE range-checks every value (3% of the gateway's CPU per direction in
   * a profile of openconnect through the tunnel, three calls per record).
   */
  view: DataView;
  address: number;
  /** The TLS 1.2 AAD at AAD (OpenSSL's TLS record mode). */
  aad: OctetParams;
  /** The whole nonce at NONCE (TLS 1.3, AES-GCM). */
  nonce: OctetParams;
  /** The nonce at NONCE and the tag to check, set per record (TLS 1.3, AES-GCM opening). */
  nonceTag: OctetParams;
  /** Where the tag goes (sealing) or comes from (opening), set per record. */
  tag: OctetParams;
}
let scratch: Scratch | undefined;
function scratchOf(evp: Evp): Scratch {
  if (!scratch) {
    const bytes = Buffer.alloc(64);
    const address = evp.address(bytes);
    const aad = new OctetParams(evp.address, [ParamKey.tlsAad]);
    aad.set(0, address + AAD, 13);
    const nonce = new OctetParams(evp.address, [ParamKey.tlsIvFixed]);
    nonce.set(0, address + NONCE, -1);
    const nonceTag = new OctetParams(evp.address, [ParamKey.tlsIvFixed, ParamKey.tag]);
    nonceTag.set(0, address + NONCE, -1);
    scratch = {
      bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      address,
      aad,
      nonce,
      nonceTag,
      tag: new OctetParams(evp.address, [ParamKey.tag]),
    };
  }
  return scratch;
}
const AAD = 0;
const NONCE = 16;
const OUTL = 32;

/** Frees contexts whose owner was dropped without dispose() (a safety net, not the normal path). */
const orphans = new FinalizationRegistry<{ evp: Evp; ctx: number }>(({ evp, ctx }) => evp.freeContext(ctx));

function writeSequence(target: DataView, at: number, seq: number): void {
  target.setUint32(at, Math.floor(seq / TWO_32));
  target.setUint32(at + 4, seq >>> 0);
}

/**
 * nonce = iv XOR (seq left-padded to 12 bytes), RFC 8446 §5.3 and RFC 7905 §2. The IV is given
 * as three big-endian words (int32: setUint32 writes their bits).
 */
function writeXorNonce(
  target: DataView,
  at: number,
  iv0: number,
  iv1: number,
  iv2: number,
  seq: number,
): void {
  target.setUint32(at, iv0);
  target.setUint32(at + 4, iv1 ^ Math.floor(seq / TWO_32));
  target.setUint32(at + 8, iv2 ^ seq);
}

/**
 * One direction's protection. Its EVP context (about 2.5 KiB of OpenSSL memory) can be released
 * while the tunnel is idle and is made again from the kept key on the next record: with tens of
 * thousands of idle tunnels the contexts were a third of their memory.
 */
export abstract class Protection {
  private ctx = 0;
  protected seq: number;
  private disposed = false;
  /**
   * key ‖ iv at `materialAt`, in memory of its own (a pooled slab slice would pin the whole
   * slab): the caller's KeyStore, or a buffer of this protection's.
   */
  private material: Buffer;
  private materialAt: number;
  private readonly keyLength: number;
  private readonly ivLength: number;

  constructor(
    protected readonly evp: Evp,
    protected readonly suite: CipherSuite,
    keys: TrafficKeys,
    protected readonly encrypt: boolean,
    initialSequence: number,
    store?: KeyStore,
  ) {
    this.keyLength = keys.key.length;
    this.ivLength = keys.iv.length;
    const length = this.keyLength + this.ivLength;
    if (store && store.at >= 0 && store.buffer.length - store.at >= length) {
      this.material = store.buffer;
      this.materialAt = store.at;
    } else {
      this.material = Buffer.allocUnsafeSlow(length);
      this.materialAt = 0;
    }
    this.writeMaterial(keys);
    this.seq = initialSequence;
    this.context(); // fail here, not at the first record, if OpenSSL refuses the key
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

  /** Frees the EVP context until the next record needs it (an idle tunnel). */
  release(): void {
    if (this.ctx === 0) return;
    orphans.unregister(this);
    this.evp.freeContext(this.ctx);
    this.ctx = 0;
  }

  /** Frees everything and wipes the key; the object is unusable afterwards. */
  dispose(): void {
    this.release();
    this.disposed = true;
    this.wipeMaterial();
  }

  /** Whether an EVP context is held right now. */
  get holdsContext(): boolean {
    return this.ctx !== 0;
  }

  protected get iv(): Buffer {
    const at = this.materialAt + this.keyLength;
    return this.material.subarray(at, at + this.ivLength);
  }

  /** The EVP context, made (again) when needed. */
  protected context(): number {
    if (this.ctx !== 0) return this.ctx;
    if (this.disposed) throw new TlsRecordError(AlertDescription.internalError, 'record protection disposed');
    const at = this.materialAt;
    const ctx = this.evp.newContext(
      this.suite.aead,
      this.material.subarray(at, at + this.keyLength),
      this.encrypt,
    );
    // The protection is its own unregister token (held weakly): no token object per tunnel.
    orphans.register(this, { evp: this.evp, ctx }, this);
    this.ctx = ctx;
    try {
      this.prepare(ctx);
    } catch (e) {
      this.release();
      throw e;
    }
    return ctx;
  }

  /** Per-context set-up after keying (the TLS 1.2 fixed IV). */
  protected prepare(_ctx: number): void {}

  /** New keys (TLS 1.3 KeyUpdate): the sequence number starts again at 0. */
  protected replaceKeys(keys: TrafficKeys): void {
    this.release();
    this.wipeMaterial();
    if (keys.key.length !== this.keyLength || keys.iv.length !== this.ivLength) {
      throw new RangeError('new keys of another length');
    }
    this.writeMaterial(keys);
    this.seq = 0;
  }

  private writeMaterial(keys: TrafficKeys): void {
    keys.key.copy(this.material, this.materialAt);
    keys.iv.copy(this.material, this.materialAt + this.keyLength);
  }

  private wipeMaterial(): void {
    this.material.fill(0, this.materialAt, this.materialAt + this.keyLength + this.ivLength);
  }

  protected nextSequence(): number {
    if (this.disposed) throw new TlsRecordError(AlertDescription.internalError, 'record protection disposed');
    if (this.seq >= MAX_SEQUENCE) {
      throw new TlsRecordError(AlertDescription.internalError, 'sequence numbers exhausted');
    }
    return this.seq++;
  }
}

/**
 * Where a protection keeps its key ‖ iv: `buffer` from `at` on, memory of the caller's (one
 * buffer for a connection's keys and secrets: a Buffer costs about 230 bytes of heap per held
 * tunnel). The protection wipes its part when disposed.
 */
export interface KeyStore {
  buffer: Buffer;
  at: number;
}

/** Bytes a protection keeps in its KeyStore for `suite`'s keys. */
export function keyStoreLength(suite: CipherSuite): number {
  return suite.keyLength + suite.ivLength;
}

/**
 * TLS 1.2 AEAD record protection in OpenSSL's TLS record mode. DTLS 1.2 (gateway/dtls) extends it:
 * the same AEAD modes with a 13-byte record header and epoch ‖ sequence as the 64-bit sequence.
 */
export class Tls12Protection extends Protection implements RecordSealer, RecordOpener {
  readonly prefix: number;
  readonly suffix = TAG_LENGTH;
  type = 0;
  plainStart = 0;
  plainEnd = 0;

  constructor(
    evp: Evp,
    suite: CipherSuite,
    keys: TrafficKeys,
    encrypt: boolean,
    initialSequence: number,
    store?: KeyStore,
  ) {
    super(evp, suite, keys, encrypt, initialSequence, store);
    this.prefix = suite.aead === 'chacha20-poly1305' ? 0 : GCM_EXPLICIT_NONCE_LENGTH;
  }

  /**
   * The salt (GCM) or the whole IV (ChaCha20). A GCM sealer gets the whole nonce, salt ‖ the
   * next sequence number, which OpenSSL then counts up record by record: the explicit nonce is
   * the sequence number (unique per key, RFC 5288 §3), also after the context was made again.
   */
  protected override prepare(ctx: number): void {
    const s = scratchOf(this.evp);
    const iv = this.iv;
    iv.copy(s.bytes, NONCE);
    let arg = iv.length;
    if (this.encrypt && this.suite.aead !== 'chacha20-poly1305') {
      writeSequence(s.view, NONCE + iv.length, this.seq);
      arg = -1; // EVP_CTRL_GCM_SET_IV_FIXED with -1: the whole 12-byte IV
    }
    if (this.evp.ctrl(ctx, EvpCtrl.setIvFixed, arg, s.address + NONCE) !== 1) {
      throw new Error('EVP_CTRL_AEAD_SET_IV_FIXED failed');
    }
  }

  /**
   * The 13-byte TLS 1.2 AAD, seq ‖ type ‖ version ‖ length (RFC 5246 §6.2.3.3), the 64-bit
   * sequence given as two 32-bit words; `length` as OpenSSL's TLS mode wants it (it corrects for
   * nonce and tag). ChaCha20-Poly1305 takes its per-record nonce from these 8 bytes (RFC 7905 §2).
   */
  protected setAad(
    ctx: number,
    seqHigh: number,
    seqLow: number,
    type: number,
    version: number,
    length: number,
  ): void {
    const s = scratchOf(this.evp);
    s.view.setUint32(AAD, seqHigh);
    s.view.setUint32(AAD + 4, seqLow);
    s.bytes[AAD + 8] = type;
    s.bytes[AAD + 9] = version >>> 8;
    s.bytes[AAD + 10] = version & 0xff;
    s.bytes[AAD + 11] = length >>> 8;
    s.bytes[AAD + 12] = length & 0xff;
    // The parameter EVP_CTRL_AEAD_TLS1_AAD sets (without its read-back of the tag length, 16).
    if (this.evp.setParams(ctx, s.aad.address) !== 1) {
      throw new TlsRecordError(AlertDescription.internalError, 'TLS AAD parameter refused');
    }
  }

  /** The AAD of the next record in sequence (TLS: the sequence number is implicit). */
  private setNextAad(ctx: number, type: number, length: number): void {
    const seq = this.nextSequence();
    this.setAad(ctx, Math.floor(seq / TWO_32), seq, type, TLS12_VERSION, length);
  }

  seal(buffer: Buffer, address: number, at: number, type: ContentType, length: number): number {
    const ctx = this.context();
    this.setNextAad(ctx, type, this.prefix + length);
    const body = this.prefix + length + TAG_LENGTH;
    const p = address + at + RECORD_HEADER_LENGTH;
    if (this.evp.cipher(ctx, p, p, body) < 0) {
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
    const ctx = this.context();
    const type = buffer[start]!;
    this.setNextAad(ctx, type, fragment);
    const p = address + start + RECORD_HEADER_LENGTH;
    if (this.evp.cipher(ctx, p, p, fragment) < 0) return false;
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
  /**
   * The IV as three big-endian words, in fields rather than a Uint32Array: a typed array costs
   * about 200 bytes of heap, two per held tunnel.
   */
  private iv0 = 0;
  private iv1 = 0;
  private iv2 = 0;
  /**
   * AES-GCM takes the whole nonce as a parameter (tlsivfixed with SIZE_MAX: copy all 12 bytes);
   * ChaCha20-Poly1305's parameter of that name sets its TLS-mode nonce only, so it is given the
   * nonce through EVP_CipherInit_ex.
   */
  private readonly gcm: boolean;

  constructor(
    evp: Evp,
    suite: CipherSuite,
    keys: TrafficKeys,
    encrypt: boolean,
    initialSequence: number,
    store?: KeyStore,
  ) {
    super(evp, suite, keys, encrypt, initialSequence, store);
    this.setIv(keys.iv);
    this.gcm = suite.aead !== 'chacha20-poly1305';
  }

  /** New keys after a KeyUpdate (RFC 8446 §4.6.3): the sequence number starts again at 0. */
  rekey(keys: TrafficKeys): void {
    this.replaceKeys(keys);
    this.setIv(keys.iv);
  }

  private setIv(iv: Buffer): void {
    this.iv0 = iv.readInt32BE(0);
    this.iv1 = iv.readInt32BE(4);
    this.iv2 = iv.readInt32BE(8);
  }

  /** Writes the next record's nonce into the scratch area (nonce = iv XOR seq, §5.3). */
  private nextNonce(): Scratch {
    const s = scratchOf(this.evp);
    writeXorNonce(s.view, NONCE, this.iv0, this.iv1, this.iv2, this.nextSequence());
    return s;
  }

  seal(buffer: Buffer, address: number, at: number, type: ContentType, length: number): number {
    const inner = length + 1;
    const body = inner + TAG_LENGTH;
    buffer[at + RECORD_HEADER_LENGTH + length] = type;
    writeRecordHeader(buffer, at, Type.applicationData, body);
    const ctx = this.context();
    const s = this.nextNonce();
    const { evp } = this;
    const p = address + at + RECORD_HEADER_LENGTH;
    const outl = s.address + OUTL;
    s.tag.set(0, p + inner, TAG_LENGTH);
    const ok =
      (this.gcm ? evp.setParams(ctx, s.nonce.address) : evp.setIv(ctx, s.address + NONCE, true)) === 1 &&
      evp.update(ctx, 0, outl, address + at, RECORD_HEADER_LENGTH) === 1 &&
      evp.update(ctx, p, outl, p, inner) === 1 &&
      evp.final(ctx, p + inner, outl) === 1 &&
      evp.getParams(ctx, s.tag.address) === 1;
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
    const ctx = this.context();
    const s = this.nextNonce();
    const { evp } = this;
    const p = address + start + RECORD_HEADER_LENGTH;
    const cipherLength = fragment - TAG_LENGTH;
    const outl = s.address + OUTL;
    let ok: boolean;
    if (this.gcm) {
      // The tag to check goes in with the nonce: GCM only compares it in final.
      s.nonceTag.set(1, p + cipherLength, TAG_LENGTH);
      ok = evp.setParams(ctx, s.nonceTag.address) === 1;
    } else {
      s.tag.set(0, p + cipherLength, TAG_LENGTH);
      ok = evp.setIv(ctx, s.address + NONCE, false) === 1 && evp.setParams(ctx, s.tag.address) === 1;
    }
    ok =
      ok &&
      evp.update(ctx, 0, outl, address + start, RECORD_HEADER_LENGTH) === 1 &&
      evp.update(ctx, p, outl, p, cipherLength) === 1 &&
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

export function createSealer(
  evp: Evp,
  suite: CipherSuite,
  keys: TrafficKeys,
  sequence = 0,
  store?: KeyStore,
): RecordSealer {
  return suite.version === 'TLSv1.3'
    ? new Tls13Protection(evp, suite, keys, true, sequence, store)
    : new Tls12Protection(evp, suite, keys, true, sequence, store);
}

export function createOpener(
  evp: Evp,
  suite: CipherSuite,
  keys: TrafficKeys,
  sequence = 0,
  store?: KeyStore,
): RecordOpener {
  return suite.version === 'TLSv1.3'
    ? new Tls13Protection(evp, suite, keys, false, sequence, store)
    : new Tls12Protection(evp, suite, keys, false, sequence, store);
}

/** The TLS 1.3 KeyUpdate hook of a sealer or opener made for a TLS 1.3 suite. */
export function canRekey(p: RecordSealer | RecordOpener): p is Tls13Sealer | Tls13Opener {
  return p instanceof Tls13Protection;
}
