import { FRAME_HEADER_LENGTH, FrameType, frameMagic } from './frame.js';

/**
 * The inbound fast path's frame check: is `bytes[start, end)` exactly one whole CSTP DATA frame
 * (magic, type DATA, reserved byte 0, announced length = the bytes that follow the header) with
 * a payload of at most `maxPayload`? Returns the payload length (it starts at
 * `start + FRAME_HEADER_LENGTH`), or -1 for anything else: split or merged frames, control
 * frames, bad headers, all of which the streaming CstpFrameDecoder then handles (and rejects).
 * Outpost's record layer hands over one TLS record at a time and openconnect puts one frame in
 * each record (frame.ts), so this is the case of nearly every packet. Reads only the header: no
 * allocation, no view, so it can run on every packet.
 */
export function wholeDataFrameLength(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxPayload: number,
): number {
  const length = end - start - FRAME_HEADER_LENGTH;
  if (
    length >= 0 &&
    bytes[start] === frameMagic[0] &&
    bytes[start + 1] === frameMagic[1] &&
    bytes[start + 2] === frameMagic[2] &&
    bytes[start + 3] === frameMagic[3] &&
    bytes[start + 6] === FrameType.data &&
    bytes[start + 7] === 0 &&
    ((bytes[start + 4]! << 8) | bytes[start + 5]!) === length &&
    length <= maxPayload
  ) {
    return length;
  }
  return -1;
}
