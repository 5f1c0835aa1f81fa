import type { CipherSuite } from '../tls/cipher-suites.js';
import { TAG_LENGTH } from '../tls/cipher-suites.js';
import type { Evp } from '../tls/evp.js';
import type { TrafficKeys } from '../tls/key-schedule.js';
import { AlertDescription, TlsRecordError } from '../tls/record.js';
import { Tls12Protection } from '../tls/record-protection.js';
import {
  DTLS_1_2,
  DTLS_RECORD_HEADER_LENGTH,
  type DtlsContentType,
  writeRecordHeader,
} from './codec/record.js';

const TWO_32 = 2 ** 32;

/**
 * Record protection of one direction of one epoch of a DTLS 1.2 connection (RFC 6347 §4.1.2.1):
 * TLS 1.2's AEAD record protection (gateway/tls Tls12Protection, OpenSSL's TLS record mode on
 * one EVP context) with the DTLS framing. The 64-bit "sequence number" of TLS becomes epoch ‖
 * 48-bit sequence, carried in the record header; the AAD is that ‖ type ‖ version ‖ length.
 * - AES-GCM (RFC 5288 §3): 8-byte explicit nonce in the record; OpenSSL counts it up from the
 *   sequence number at keying, so it is unique per key (the only requirement).
 * - ChaCha20-Poly1305 (RFC 7905 §2): nonce = IV XOR epoch ‖ sequence; OpenSSL's TLS mode takes
 *   those 8 bytes from the AAD.
 *
 * Sealing numbers records from `initialSequence` up; opening takes the number from each record
 * (the anti-replay window, not this object, decides which numbers are acceptable).
 */
export class DtlsRecordProtection extends Tls12Protection {
  constructor(
    evp: Evp,
    suite: CipherSuite,
    keys: TrafficKeys,
    encrypt: boolean,
    readonly epoch: number,
    initialSequence = 0,
  ) {
    super(evp, suite, keys, encrypt, initialSequence);
  }

  /** Bytes a record adds around its plaintext. */
  get overhead(): number {
    return DTLS_RECORD_HEADER_LENGTH + this.prefix + TAG_LENGTH;
  }

  /**
   * Protects one record in place: the plaintext (`length` bytes) is already at
   * `at + 13 + prefix` and TAG_LENGTH bytes after it are writable. Writes header, explicit nonce,
   * ciphertext and tag; returns the record's length.
   */
  override seal(buffer: Buffer, address: number, at: number, type: DtlsContentType, length: number): number {
    // The context first: made again after release(), its GCM counter starts at the sequence
    // number the record gets, so the explicit nonce stays equal to it.
    const ctx = this.context();
    const seq = this.nextSequence();
    const body = this.prefix + length + TAG_LENGTH;
    writeRecordHeader(buffer, at, type, DTLS_1_2, this.epoch, seq, body);
    this.setAad(
      ctx,
      (this.epoch << 16) | Math.floor(seq / TWO_32),
      seq,
      type,
      DTLS_1_2,
      this.prefix + length,
    );
    const p = address + at + DTLS_RECORD_HEADER_LENGTH;
    if (this.evp.cipher(ctx, p, p, body) < 0) {
      throw new TlsRecordError(AlertDescription.internalError, 'EVP_Cipher failed to seal');
    }
    return DTLS_RECORD_HEADER_LENGTH + body;
  }

  /**
   * Authenticates and decrypts the record `buffer[start, end)` in place, with the epoch and
   * sequence number of its header. True on success (plaintext at [plainStart, plainEnd));
   * false when it does not authenticate or is too short to hold nonce and tag.
   */
  override open(buffer: Buffer, address: number, start: number, end: number): boolean {
    const fragment = end - start - DTLS_RECORD_HEADER_LENGTH;
    if (fragment < this.prefix + TAG_LENGTH) return false;
    const type = buffer[start]!;
    const version = (buffer[start + 1]! << 8) | buffer[start + 2]!;
    const ctx = this.context();
    this.setAad(ctx, buffer.readUInt32BE(start + 3), buffer.readUInt32BE(start + 7), type, version, fragment);
    const p = address + start + DTLS_RECORD_HEADER_LENGTH;
    if (this.evp.cipher(ctx, p, p, fragment) < 0) return false;
    this.type = type;
    this.plainStart = start + DTLS_RECORD_HEADER_LENGTH + this.prefix;
    this.plainEnd = end - TAG_LENGTH;
    return true;
  }
}
