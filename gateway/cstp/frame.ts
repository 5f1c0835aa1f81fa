/**
 * CSTP frames: the records that flow over the TLS stream after `CONNECT /CSCOSSLC/tunnel`.
 *
 *   0..3  'S' 'T' 'F' 0x01          magic
 *   4..5  payload length, big-endian (header not included)
 *   6     type
 *   7     0x00                      both peers reject anything else (openconnect cstp.c
 *                                   cstp_mainloop `hdr[7]` check; ocserv worker-vpn.c parse_cstp_data)
 *   8..   payload
 *
 * Type numbers are openconnect-internal.h's AC_PKT_*. What each carries, from reading both peers:
 * - DATA: one IP packet.
 * - DPD_REQUEST: usually empty on TLS; ocserv answers by flipping the type byte of the very same
 *   buffer to DPD_RESPONSE and sending it back, payload included (worker-vpn.c parse_data). We do
 *   the same (see `encodeDpdResponse`).
 * - DPD_RESPONSE, KEEPALIVE: empty as sent by openconnect (cstp.c dpd_resp_pkt / keepalive_pkt);
 *   neither peer inspects a payload, so we accept one (bounded) and ignore it.
 * - DISCONNECT: reason byte + text (see disconnect.ts).
 * - COMPRESSED: only after X-CSTP-Content-Encoding was negotiated; we never negotiate it, and
 *   openconnect itself treats an unnegotiated one as an unknown packet (fatal).
 * - TERMINATE: "server kick"; openconnect quits on it and ignores its payload.
 */
export const FrameType = {
  data: 0x00,
  dpdRequest: 0x03,
  dpdResponse: 0x04,
  disconnect: 0x05,
  keepalive: 0x07,
  compressed: 0x08,
  terminate: 0x09,
} as const;

export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** One decoded frame. `payload` may be a view into the chunk it arrived in (no copy). */
export interface CstpFrame {
  readonly type: FrameType;
  readonly payload: Buffer;
}

export const FRAME_HEADER_LENGTH = 8;

/**
 * The largest payload we ever accept or send. openconnect sizes its receive buffer as
 * MAX(16384, mtu) (cstp.c "Some servers send us packets that are larger than negotiated MTU"),
 * so 16384 is safe towards it and far above any tunnel MTU we negotiate.
 */
export const MAX_FRAME_PAYLOAD = 16384;

const MAGIC = [0x53, 0x54, 0x46, 0x01] as const; // 'S' 'T' 'F' 1

const frameTypes: ReadonlySet<number> = new Set(Object.values(FrameType));

export function isFrameType(value: number): value is FrameType {
  return frameTypes.has(value);
}

/**
 * Writes the 8-byte header at `offset` and returns the offset where the payload goes. The data
 * path preallocates one buffer, writes header + packet for several packets into it, and sends it
 * with one TLS write; this keeps that path allocation-free.
 */
export function writeFrameHeader(target: Buffer, offset: number, type: FrameType, length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`CSTP payload length ${length} outside 0..${MAX_FRAME_PAYLOAD}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + FRAME_HEADER_LENGTH > target.length) {
    throw new RangeError(`no room for a CSTP header at offset ${offset}`);
  }
  target[offset] = MAGIC[0];
  target[offset + 1] = MAGIC[1];
  target[offset + 2] = MAGIC[2];
  target[offset + 3] = MAGIC[3];
  target[offset + 4] = length >>> 8;
  target[offset + 5] = length & 0xff;
  target[offset + 6] = type;
  target[offset + 7] = 0;
  return offset + FRAME_HEADER_LENGTH;
}

/** A whole frame in a fresh buffer (control frames, tests). The data path uses writeFrameHeader. */
export function encodeFrame(type: FrameType, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + length);
  writeFrameHeader(frame, 0, type, length);
  if (payload && length > 0) frame.set(payload, FRAME_HEADER_LENGTH);
  return frame;
}

/** The reply to a DPD request: same payload, type DPD_RESPONSE (ocserv worker-vpn.c parse_data). */
export function encodeDpdResponse(request: CstpFrame): Buffer {
  return encodeFrame(FrameType.dpdResponse, request.payload);
}

export const frameMagic: readonly number[] = MAGIC;
