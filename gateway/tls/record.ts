import { DecodeError } from '../../core/errors.js';

/**
 * TLS record framing shared by TLS 1.2 and 1.3 (RFC 5246 §6.2, RFC 8446 §5.1):
 *
 *   0     content type
 *   1..2  legacy version (3, 1..4; 0x0303 once protected)
 *   3..4  length of the fragment that follows (big-endian)
 */
export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export const RECORD_HEADER_LENGTH = 5;
/** Largest plaintext fragment (RFC 5246 §6.2.1, RFC 8446 §5.1). */
export const MAX_PLAINTEXT = 16384;
/** Largest protected fragment in TLS 1.2 (RFC 5246 §6.2.3): 2^14 + 2048. */
export const MAX_CIPHERTEXT_TLS12 = MAX_PLAINTEXT + 2048;
/** Largest protected fragment in TLS 1.3 (RFC 8446 §5.2): 2^14 + 256. */
export const MAX_CIPHERTEXT_TLS13 = MAX_PLAINTEXT + 256;

/** Alert descriptions we send (RFC 8446 §6). */
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  decodeError: 50,
  internalError: 80,
} as const;
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

/** A record that cannot be accepted; `alert` is what the peer should be told before the close. */
export class TlsRecordError extends DecodeError {
  readonly alert: AlertDescription;
  constructor(alert: AlertDescription, detail: string) {
    super(`TLS record rejected: ${detail}`);
    this.name = 'TlsRecordError';
    this.alert = alert;
  }
}

export function writeRecordHeader(target: Buffer, at: number, type: ContentType, length: number): void {
  target[at] = type;
  target[at + 1] = 3;
  target[at + 2] = 3;
  target[at + 3] = length >>> 8;
  target[at + 4] = length & 0xff;
}

/** Receives one complete record: `buffer[start, end)` is header + fragment, and the callee may overwrite it. */
export type RecordHandler = (buffer: Buffer, start: number, end: number) => void;

/**
 * Cuts a byte stream into whole records, whatever the chunking. A record lying inside one chunk is
 * handed over as a range of that chunk (no copy); only records split across chunks are copied,
 * into a buffer of exactly their size. Types other than the four of TLS 1.2/1.3, a major version
 * other than 3, or a fragment over `maxFragment` fail the stream (there is no resynchronising a
 * TLS stream); the splitter then stays failed.
 */
export class TlsRecordSplitter {
  /**
   * A header split across reads, gathered here; made the first time one is (a Buffer costs about
   * 200 bytes of heap, which an idle tunnel would keep for nothing).
   */
  private header: Buffer | null = null;
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private failure: TlsRecordError | null = null;

  constructor(private readonly maxFragment: number) {}

  /** Bytes of an incomplete record held back for the next chunk. */
  get pendingBytes(): number {
    return this.body ? this.bodyFilled : this.headerFilled;
  }

  /** Hands out (and forgets) the bytes of the incomplete record held back, as they arrived. */
  takePending(): Buffer {
    const pending = this.body
      ? Buffer.from(this.body.subarray(0, this.bodyFilled))
      : Buffer.from(this.header?.subarray(0, this.headerFilled) ?? []);
    this.body = null;
    this.bodyFilled = 0;
    this.headerFilled = 0;
    return pending;
  }

  /** Splits `chunk[0, end)` (default: all of it). */
  push(chunk: Buffer, onRecord: RecordHandler, end = chunk.length): void {
    if (this.failure) throw this.failure;
    try {
      this.split(chunk, onRecord, end);
    } catch (e) {
      this.failure =
        e instanceof TlsRecordError
          ? e
          : new TlsRecordError(AlertDescription.internalError, 'a record handler threw earlier');
      throw e;
    }
  }

  private split(chunk: Buffer, onRecord: RecordHandler, end: number): void {
    let pos = 0;
    while (pos < end) {
      if (this.body) {
        const take = Math.min(end - pos, this.body.length - this.bodyFilled);
        chunk.copy(this.body, this.bodyFilled, pos, pos + take);
        this.bodyFilled += take;
        pos += take;
        if (this.bodyFilled === this.body.length) {
          const record = this.body;
          this.body = null;
          this.bodyFilled = 0;
          onRecord(record, 0, record.length);
        }
        continue;
      }
      if (this.headerFilled === 0 && end - pos >= RECORD_HEADER_LENGTH) {
        const total = RECORD_HEADER_LENGTH + this.checkHeader(chunk, pos);
        if (end - pos >= total) {
          const start = pos;
          pos += total;
          onRecord(chunk, start, pos);
        } else {
          this.startBody(chunk, pos, total);
          pos += RECORD_HEADER_LENGTH;
        }
        continue;
      }
      const take = Math.min(end - pos, RECORD_HEADER_LENGTH - this.headerFilled);
      this.header ??= Buffer.alloc(RECORD_HEADER_LENGTH);
      const header = this.header;
      chunk.copy(header, this.headerFilled, pos, pos + take);
      this.headerFilled += take;
      pos += take;
      if (this.headerFilled < RECORD_HEADER_LENGTH) continue;
      this.headerFilled = 0;
      const total = RECORD_HEADER_LENGTH + this.checkHeader(header, 0);
      if (total === RECORD_HEADER_LENGTH) {
        const record = Buffer.from(header);
        onRecord(record, 0, record.length);
      } else this.startBody(header, 0, total);
    }
  }

  private startBody(source: Buffer, at: number, total: number): void {
    this.body = Buffer.allocUnsafe(total);
    source.copy(this.body, 0, at, at + RECORD_HEADER_LENGTH);
    this.bodyFilled = RECORD_HEADER_LENGTH;
  }

  /** Validates the header at `at` and returns the fragment length. */
  private checkHeader(bytes: Buffer, at: number): number {
    const type = bytes[at]!;
    if (type < ContentType.changeCipherSpec || type > ContentType.applicationData) {
      throw new TlsRecordError(AlertDescription.unexpectedMessage, `content type ${type}`);
    }
    if (bytes[at + 1] !== 3) {
      throw new TlsRecordError(
        AlertDescription.decodeError,
        `record version ${bytes[at + 1]}.${bytes[at + 2]}`,
      );
    }
    const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
    if (length > this.maxFragment) {
      throw new TlsRecordError(
        AlertDescription.recordOverflow,
        `fragment of ${length} bytes over ${this.maxFragment}`,
      );
    }
    return length;
  }
}
