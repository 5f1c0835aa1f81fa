import { DecodeError } from '../../../core/errors.js';
import { ContentType } from '../../tls/record.js';

/**
 * DTLS 1.2 record framing (RFC 6347 §4.1): several records may share one datagram, none spans
 * two.
 *
 *   0      content type (20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data)
 *   1..2   version: 0xfefd (DTLS 1.2) or 0xfeff (DTLS 1.0, allowed on a ClientHello)
 *   3..4   epoch
 *   5..10  sequence number (48 bits)
 *   11..12 length of the fragment that follows
 */
/** The same four content types as TLS (RFC 6347 §4.1 keeps RFC 5246's). */
export const DtlsContentType = ContentType;
export type DtlsContentType = ContentType;

export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;
export const DTLS_RECORD_HEADER_LENGTH = 13;
/** Largest plaintext fragment (RFC 6347 §4.1 refers to RFC 5246 §6.2.1). */
export const DTLS_MAX_PLAINTEXT = 16384;
/** Largest protected fragment (RFC 5246 §6.2.3): 2^14 + 2048. */
export const DTLS_MAX_CIPHERTEXT = DTLS_MAX_PLAINTEXT + 2048;
/** Largest sequence number in an epoch (48 bits). */
export const DTLS_MAX_SEQUENCE = 2 ** 48 - 1;

const TWO_32 = 2 ** 32;

/** Alert descriptions the DTLS server sends (RFC 5246 §7.2). */
export const DtlsAlert = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  handshakeFailure: 40,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
} as const;
export type DtlsAlert = (typeof DtlsAlert)[keyof typeof DtlsAlert];

/** A record or handshake message that cannot be decoded; `alert` is what a peer would be told. */
export class DtlsDecodeError extends DecodeError {
  readonly alert: DtlsAlert;
  constructor(detail: string, alert: DtlsAlert = DtlsAlert.decodeError) {
    super(`DTLS rejected: ${detail}`);
    this.name = 'DtlsDecodeError';
    this.alert = alert;
  }
}

/**
 * One record of a datagram: `datagram[start, end)` is header and fragment; the fragment is
 * `[start + 13, end)`. The sequence number is split in two words (high 16 bits, low 32) so the
 * hot path never builds a BigInt.
 */
export interface DtlsRecordView {
  type: number;
  version: number;
  epoch: number;
  seqHigh: number;
  seqLow: number;
  start: number;
  end: number;
}

/** The 48-bit sequence number of a view, as a number (exact: 48 < 53 bits). */
export function sequenceOf(record: DtlsRecordView): number {
  return record.seqHigh * TWO_32 + record.seqLow;
}

/**
 * Reads the record header at `at` of a datagram into `out` (reused by the caller: no allocation
 * per record). Throws DtlsDecodeError when the header is cut, the version is not DTLS, or the
 * fragment would run past the datagram or is larger than any DTLS 1.2 record.
 */
export function readRecord(
  datagram: Uint8Array,
  at: number,
  out: DtlsRecordView,
  limit = datagram.length,
): void {
  if (limit - at < DTLS_RECORD_HEADER_LENGTH) {
    throw new DtlsDecodeError(`record header cut at ${limit - at} bytes`);
  }
  const version = (datagram[at + 1]! << 8) | datagram[at + 2]!;
  if (version !== DTLS_1_2 && version !== DTLS_1_0) {
    throw new DtlsDecodeError(`record version 0x${version.toString(16)}`, DtlsAlert.protocolVersion);
  }
  const length = (datagram[at + 11]! << 8) | datagram[at + 12]!;
  if (length > DTLS_MAX_CIPHERTEXT) throw new DtlsDecodeError(`record fragment of ${length} bytes`);
  const end = at + DTLS_RECORD_HEADER_LENGTH + length;
  if (end > limit) {
    throw new DtlsDecodeError(`record of ${length} bytes runs past the datagram`);
  }
  out.type = datagram[at]!;
  out.version = version;
  out.epoch = (datagram[at + 3]! << 8) | datagram[at + 4]!;
  out.seqHigh = (datagram[at + 5]! << 8) | datagram[at + 6]!;
  out.seqLow =
    ((datagram[at + 7]! << 24) |
      (datagram[at + 8]! << 16) |
      (datagram[at + 9]! << 8) |
      datagram[at + 10]!) >>>
    0;
  out.start = at;
  out.end = end;
}

export function emptyRecordView(): DtlsRecordView {
  return { type: 0, version: 0, epoch: 0, seqHigh: 0, seqLow: 0, start: 0, end: 0 };
}

/** Every record of a datagram, in order (copies of the views; for the handshake, not the data path). */
export function splitDatagram(datagram: Uint8Array): DtlsRecordView[] {
  const records: DtlsRecordView[] = [];
  for (let at = 0; at < datagram.length; ) {
    const view = emptyRecordView();
    readRecord(datagram, at, view);
    records.push(view);
    at = view.end;
  }
  return records;
}

/** Writes a record header at `at`; the fragment of `length` bytes follows it. */
export function writeRecordHeader(
  target: Buffer,
  at: number,
  type: DtlsContentType,
  version: number,
  epoch: number,
  sequence: number,
  length: number,
): void {
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > DTLS_MAX_SEQUENCE) {
    throw new RangeError(`DTLS sequence number ${sequence}`);
  }
  if (length > DTLS_MAX_CIPHERTEXT) throw new RangeError(`DTLS record fragment of ${length} bytes`);
  target[at] = type;
  target[at + 1] = version >>> 8;
  target[at + 2] = version & 0xff;
  target[at + 3] = epoch >>> 8;
  target[at + 4] = epoch & 0xff;
  const high = Math.floor(sequence / TWO_32);
  target[at + 5] = high >>> 8;
  target[at + 6] = high & 0xff;
  target.writeUInt32BE(sequence >>> 0, at + 7);
  target[at + 11] = length >>> 8;
  target[at + 12] = length & 0xff;
}

/** A whole unprotected record (epoch 0: the handshake before ChangeCipherSpec, alerts, CCS). */
export function encodePlainRecord(
  type: DtlsContentType,
  version: number,
  epoch: number,
  sequence: number,
  fragment: Uint8Array,
): Buffer {
  const record = Buffer.allocUnsafe(DTLS_RECORD_HEADER_LENGTH + fragment.length);
  writeRecordHeader(record, 0, type, version, epoch, sequence, fragment.length);
  record.set(fragment, DTLS_RECORD_HEADER_LENGTH);
  return record;
}
