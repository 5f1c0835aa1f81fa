import { DecodeError } from '../../core/errors.js';
import {
  type CstpFrame,
  FRAME_HEADER_LENGTH,
  FrameType,
  frameMagic,
  isFrameType,
  MAX_FRAME_PAYLOAD,
} from './frame.js';

/** Which header check a byte stream failed; stable, so callers can count them. */
export type FrameCheck =
  | 'magic'
  | 'reserved-byte'
  | 'type'
  | 'compressed'
  | 'length'
  | 'truncated'
  | 'consumer';

/** A DecodeError that says which check failed (rule 1: codecs throw one typed decode error). */
export class FrameDecodeError extends DecodeError {
  readonly check: FrameCheck;
  constructor(check: FrameCheck, detail: string) {
    super(`malformed CSTP frame (${check}): ${detail}`);
    this.name = 'FrameDecodeError';
    this.check = check;
  }
}

/**
 * Room above the tunnel MTU before a payload counts as oversized: DPD frames may carry padding
 * (AnyConnect pads DPDs for MTU probing on DTLS; ocserv echoes whatever it gets), and a BYE
 * carries a short reason text. Small enough that a peer cannot make us buffer much.
 */
export const PAYLOAD_SLACK = 256;

/** Used when the caller does not say: Ethernet's 1500 covers every tunnel MTU ocserv would give a 1500-byte path. */
export const DEFAULT_TUNNEL_MTU = 1500;

export function maxPayloadForMtu(mtu: number): number {
  return Math.min(MAX_FRAME_PAYLOAD, mtu + PAYLOAD_SLACK);
}

export interface FrameDecoderOptions {
  /** Negotiated tunnel MTU (X-CSTP-MTU); the payload limit becomes mtu + PAYLOAD_SLACK. */
  mtu?: number;
  /** Explicit payload limit, 0..16384; wins over `mtu`. */
  maxPayload?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits a TLS byte stream into CSTP frames. Accepts any chunking (a frame split over many chunks,
 * many frames in one chunk, 1-byte chunks). A frame lying wholly inside one chunk is returned as a
 * subarray of that chunk (no copy; it keeps the chunk alive); only frames split across chunks are
 * copied, into a buffer of exactly their size that nothing reuses. After the first error the
 * decoder stays failed: a CSTP stream has no resynchronisation point, the connection must close.
 */
export class CstpFrameDecoder {
  readonly maxPayload: number;
  /**
   * A header split across chunks, gathered here; made the first time one is (a Buffer costs about
   * 200 bytes of heap, and a tunnel whose records each carry whole frames never needs it).
   */
  private header: Buffer | null = null;
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private bodyType: FrameType = FrameType.data;
  private failure: FrameDecodeError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    const limit = options.maxPayload ?? maxPayloadForMtu(options.mtu ?? DEFAULT_TUNNEL_MTU);
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`CSTP maxPayload must be an integer in 0..${MAX_FRAME_PAYLOAD}, got ${limit}`);
    }
    this.maxPayload = limit;
  }

  /** Bytes of an incomplete frame held back, waiting for the next chunk. */
  get pendingBytes(): number {
    return this.body ? FRAME_HEADER_LENGTH + this.bodyFilled : this.headerFilled;
  }

  /** Decodes a chunk; returns the frames it completed (possibly none). */
  push(chunk: Buffer): CstpFrame[] {
    const frames: CstpFrame[] = [];
    this.pushEach(chunk, (frame) => frames.push(frame));
    return frames;
  }

  /**
   * Callback form of `push` for the hot path: no array per chunk. `onFrame` should not throw: if it
   * does, the error propagates, the rest of the chunk is not decoded and the decoder is unusable.
   */
  pushEach(chunk: Buffer, onFrame: (frame: CstpFrame) => void): void {
    if (this.failure) throw this.failure;
    try {
      this.decode(chunk, onFrame);
    } catch (e) {
      this.failure =
        e instanceof FrameDecodeError
          ? e
          : new FrameDecodeError('consumer', 'a frame callback threw earlier');
      throw e;
    }
  }

  /** Call at end of stream: throws if a frame was cut off. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.pendingBytes > 0) {
      this.failure = new FrameDecodeError(
        'truncated',
        `stream ended inside a frame (${this.pendingBytes} bytes)`,
      );
      throw this.failure;
    }
  }

  private decode(chunk: Buffer, onFrame: (frame: CstpFrame) => void): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.body) {
        const take = Math.min(end - pos, this.body.length - this.bodyFilled);
        chunk.copy(this.body, this.bodyFilled, pos, pos + take);
        this.bodyFilled += take;
        pos += take;
        if (this.bodyFilled === this.body.length) {
          const frame: CstpFrame = { type: this.bodyType, payload: this.body };
          this.body = null;
          this.bodyFilled = 0;
          onFrame(frame);
        }
        continue;
      }
      if (this.headerFilled === 0 && end - pos >= FRAME_HEADER_LENGTH) {
        // Common case: the header is inside this chunk; so, usually, is the whole frame.
        const length = this.checkHeader(chunk, pos);
        const type = chunk[pos + 6] as FrameType;
        const payloadStart = pos + FRAME_HEADER_LENGTH;
        if (end - payloadStart >= length) {
          pos = payloadStart + length;
          onFrame({ type, payload: length === 0 ? EMPTY : chunk.subarray(payloadStart, pos) });
        } else {
          this.startBody(type, length);
          pos = payloadStart;
        }
        continue;
      }
      const take = Math.min(end - pos, FRAME_HEADER_LENGTH - this.headerFilled);
      this.header ??= Buffer.alloc(FRAME_HEADER_LENGTH);
      const header = this.header;
      chunk.copy(header, this.headerFilled, pos, pos + take);
      this.headerFilled += take;
      pos += take;
      if (this.headerFilled < FRAME_HEADER_LENGTH) continue;
      this.headerFilled = 0;
      const length = this.checkHeader(header, 0);
      const type = header[6] as FrameType;
      if (length === 0) onFrame({ type, payload: EMPTY });
      else this.startBody(type, length);
    }
  }

  private startBody(type: FrameType, length: number): void {
    this.body = Buffer.allocUnsafe(length);
    this.bodyFilled = 0;
    this.bodyType = type;
  }

  /** Validates the header at `at` and returns the payload length. */
  private checkHeader(bytes: Buffer, at: number): number {
    for (let i = 0; i < 4; i++) {
      if (bytes[at + i] !== frameMagic[i]) {
        throw new FrameDecodeError(
          'magic',
          `expected 53 54 46 01, got ${bytes.subarray(at, at + 4).toString('hex')}`,
        );
      }
    }
    if (bytes[at + 7] !== 0)
      throw new FrameDecodeError('reserved-byte', `header byte 7 is ${bytes[at + 7]}, not 0`);
    const type = bytes[at + 6]!;
    if (!isFrameType(type)) throw new FrameDecodeError('type', `unknown frame type 0x${type.toString(16)}`);
    if (type === FrameType.compressed) {
      throw new FrameDecodeError('compressed', 'compressed frame, but no compression was negotiated');
    }
    const length = bytes.readUInt16BE(at + 4);
    if (length > this.maxPayload) {
      throw new FrameDecodeError(
        'length',
        `payload of ${length} bytes exceeds the limit of ${this.maxPayload}`,
      );
    }
    return length;
  }
}
