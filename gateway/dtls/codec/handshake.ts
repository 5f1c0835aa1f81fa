import { DtlsAlert, DtlsDecodeError } from './record.js';

/**
 * DTLS handshake message framing (RFC 6347 §4.2.2): TLS's 4-byte header grows to 12 so that a
 * message can be cut into fragments that each fit a datagram and be put back together in any
 * order.
 *
 *   0      msg_type
 *   1..3   length of the whole message body
 *   4..5   message_seq
 *   6..8   fragment_offset
 *   9..11  fragment_length
 */
export const HandshakeType = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  serverKeyExchange: 12,
  serverHelloDone: 14,
  clientKeyExchange: 16,
  finished: 20,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

export const HANDSHAKE_HEADER_LENGTH = 12;

export interface HandshakeFragment {
  type: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  offset: number;
  /** The fragment's bytes (a view into the record). */
  bytes: Buffer;
}

const read24 = (b: Uint8Array, at: number) => (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;

function write24(target: Buffer, at: number, value: number): void {
  target[at] = (value >>> 16) & 0xff;
  target[at + 1] = (value >>> 8) & 0xff;
  target[at + 2] = value & 0xff;
}

/**
 * The handshake fragments of one record's plaintext (several may share a record, RFC 6347
 * §4.2.3). Throws DtlsDecodeError on a cut header or a fragment outside its message.
 */
export function readHandshakeFragments(fragment: Buffer): HandshakeFragment[] {
  const out: HandshakeFragment[] = [];
  let at = 0;
  while (at < fragment.length) {
    if (fragment.length - at < HANDSHAKE_HEADER_LENGTH) {
      throw new DtlsDecodeError(`handshake header cut at ${fragment.length - at} bytes`);
    }
    const length = read24(fragment, at + 1);
    const offset = read24(fragment, at + 6);
    const fragmentLength = read24(fragment, at + 9);
    const start = at + HANDSHAKE_HEADER_LENGTH;
    if (start + fragmentLength > fragment.length) {
      throw new DtlsDecodeError('handshake fragment runs past its record');
    }
    if (offset + fragmentLength > length) {
      throw new DtlsDecodeError(
        `handshake fragment ${offset}+${fragmentLength} outside a message of ${length}`,
      );
    }
    out.push({
      type: fragment[at]!,
      length,
      messageSeq: (fragment[at + 4]! << 8) | fragment[at + 5]!,
      offset,
      bytes: fragment.subarray(start, start + fragmentLength),
    });
    at = start + fragmentLength;
  }
  return out;
}

/**
 * A whole message as one fragment: header (offset 0, fragment length = length) + body. This is
 * also the form the handshake hash is computed over (RFC 6347 §4.2.6).
 */
export function encodeHandshake(type: HandshakeType, messageSeq: number, body: Uint8Array): Buffer {
  if (body.length >= 2 ** 24) throw new RangeError('handshake body too long');
  const message = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + body.length);
  message[0] = type;
  write24(message, 1, body.length);
  message.writeUInt16BE(messageSeq & 0xffff, 4);
  write24(message, 6, 0);
  write24(message, 9, body.length);
  message.set(body, HANDSHAKE_HEADER_LENGTH);
  return message;
}

/**
 * Cuts a whole message (as encodeHandshake made it) into fragments of at most `maxFragment` body
 * bytes, each with its own 12-byte header (RFC 6347 §4.2.3). A message that fits is returned as is.
 */
export function fragmentHandshake(message: Buffer, maxFragment: number): Buffer[] {
  if (!Number.isInteger(maxFragment) || maxFragment < 1) throw new RangeError(`fragment size ${maxFragment}`);
  const length = read24(message, 1);
  if (length <= maxFragment) return [message];
  const fragments: Buffer[] = [];
  for (let offset = 0; offset < length; offset += maxFragment) {
    const size = Math.min(maxFragment, length - offset);
    const piece = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + size);
    message.copy(piece, 0, 0, 6);
    write24(piece, 6, offset);
    write24(piece, 9, size);
    message.copy(
      piece,
      HANDSHAKE_HEADER_LENGTH,
      HANDSHAKE_HEADER_LENGTH + offset,
      HANDSHAKE_HEADER_LENGTH + offset + size,
    );
    fragments.push(piece);
  }
  return fragments;
}

/** A message put back together: `message` is in encodeHandshake's form (for the transcript). */
export interface ReassembledMessage {
  type: number;
  messageSeq: number;
  body: Buffer;
  message: Buffer;
}

export interface ReassemblyLimits {
  /** Largest message body accepted. */
  maxMessage: number;
  /** Largest number of messages ahead of the next expected one that are buffered. */
  maxAhead: number;
  /** Largest number of fragments accepted for one message (defeats 1-byte fragment floods). */
  maxFragments: number;
}

export const defaultReassemblyLimits: ReassemblyLimits = { maxMessage: 16384, maxAhead: 4, maxFragments: 64 };

interface Partial {
  type: number;
  body: Buffer;
  have: Uint8Array;
  filled: number;
  fragments: number;
}

/**
 * Puts handshake messages back together in message_seq order, from fragments that may arrive
 * cut anywhere, duplicated, overlapping or out of order (RFC 6347 §4.2.3). Messages before the
 * next expected sequence number are reported as retransmissions (the caller may resend its last
 * flight, §4.2.4); messages too far ahead are dropped. Memory is bounded by the limits: at most
 * `maxAhead + 1` messages of `maxMessage` bytes each.
 */
export class HandshakeReassembler {
  private next: number;
  private readonly partial = new Map<number, Partial>();

  constructor(
    firstExpected: number,
    private readonly limits: ReassemblyLimits = defaultReassemblyLimits,
  ) {
    this.next = firstExpected;
  }

  /** The message_seq the next complete message must carry. */
  get expected(): number {
    return this.next;
  }

  /**
   * Adds a fragment. Returns 'old' for a fragment of a message already delivered (a
   * retransmission), 'dropped' when it is too far ahead, 'kept' otherwise. Throws
   * DtlsDecodeError on a fragment that contradicts the others of its message or breaks a limit.
   */
  add(fragment: HandshakeFragment): 'old' | 'dropped' | 'kept' {
    if (fragment.messageSeq < this.next) return 'old';
    if (fragment.messageSeq > this.next + this.limits.maxAhead) return 'dropped';
    if (fragment.length > this.limits.maxMessage) {
      throw new DtlsDecodeError(`handshake message of ${fragment.length} bytes`, DtlsAlert.illegalParameter);
    }
    let p = this.partial.get(fragment.messageSeq);
    if (!p) {
      p = {
        type: fragment.type,
        body: Buffer.alloc(fragment.length),
        have: new Uint8Array(fragment.length),
        filled: 0,
        fragments: 0,
      };
      this.partial.set(fragment.messageSeq, p);
    } else if (p.type !== fragment.type || p.body.length !== fragment.length) {
      throw new DtlsDecodeError(`fragments of message ${fragment.messageSeq} disagree on type or length`);
    }
    if (++p.fragments > this.limits.maxFragments) {
      throw new DtlsDecodeError(`more than ${this.limits.maxFragments} fragments for one message`);
    }
    const { bytes, offset } = fragment;
    for (let i = 0; i < bytes.length; i++) {
      if (p.have[offset + i] === 0) {
        p.have[offset + i] = 1;
        p.body[offset + i] = bytes[i]!;
        p.filled++;
      }
    }
    return 'kept';
  }

  /** The next message in sequence once it is complete (then the one after on the next call). */
  take(): ReassembledMessage | undefined {
    const p = this.partial.get(this.next);
    if (!p || p.filled !== p.body.length) return undefined;
    this.partial.delete(this.next);
    const messageSeq = this.next++;
    const message = encodeHandshake(p.type as HandshakeType, messageSeq, p.body);
    return { type: p.type, messageSeq, body: message.subarray(HANDSHAKE_HEADER_LENGTH), message };
  }

  /** Bytes held in incomplete messages (for tests and limits). */
  get bufferedBytes(): number {
    let n = 0;
    for (const p of this.partial.values()) n += p.body.length;
    return n;
  }
}
