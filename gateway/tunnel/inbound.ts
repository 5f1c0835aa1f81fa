/**
 * The inbound packet path: client → corporate network. One packet, top to bottom:
 *
 *  1. TLS record. TCP bytes from the client reach RecordTransport.receive
 *     (gateway/tls/record-transport.ts); RecordLayer.receive (gateway/tls/record-layer.ts) splits
 *     them into records (record.ts) and opens each one in place (record-protection.ts), no copy.
 *     Over OpenSSL (openssl-transport.ts) the TLSSocket's 'data' chunks arrive instead.
 *  2. To the tunnel. The transport hands the record's plaintext to the tunnel's `data` handler:
 *     `fromTransport`, here. The DTLS transport, when attached, hands each datagram's frame to
 *     `fromDatagram` instead (whole frames, never the TLS stream's decoder).
 *  3. Frame. The common case, one whole CSTP DATA frame in the record just opened, is recognised
 *     by `wholeDataFrameLength` (gateway/cstp/data-frame.ts) and handled in place; anything else
 *     (split or merged frames, control frames, no native address) goes through the streaming
 *     CstpFrameDecoder to `frameHandler`: DPD is answered, DISCONNECT ends the tunnel.
 *  4. Spoof check. The packet's source address must be one the session was given: `toDevice`.
 *  5. TUN. The packet is copied into the device (PacketDevice.writeFrom, a memcpy into
 *     LinuxTunDevice's writer ring, gateway/tun/tun-writer-ring.ts), which a writer thread hands
 *     to the kernel.
 *
 * Nothing throws: drops are counted (counters.ts: malformed, spoofed, tun-full, internal; by
 * channel, tls or dtls), a bad stream ends the tunnel. No allocation per packet on the fast path.
 */
import {
  type CstpFrame,
  FRAME_HEADER_LENGTH,
  FrameDecodeError,
  FrameType,
  parseDisconnect,
  wholeDataFrameLength,
} from '../cstp/index.js';
import type { Channel } from './counters.js';
import { coarseNow } from './liveness.js';
import { packetAddress } from './packet-address.js';
import type { TunnelState } from './tunnel-state.js';

/** The reason a tunnel ends with when the user logged out: the session ends with it. */
export const clientLogout = 'client logout';

/** Steps 2–3: CSTP bytes from the client's transport, `buffer[start, end)` (`address` = buffer's or -1). */
export function fromTransport(
  t: TunnelState,
  buffer: Buffer,
  start: number,
  end: number,
  address: number,
): void {
  if (t.closed) return;
  t.lastReceived = coarseNow;
  if (address >= 0 && t.decoder.pendingBytes === 0) {
    const length = wholeDataFrameLength(buffer, start, end, t.decoder.maxPayload);
    if (length >= 0) return toDevice(t, buffer, start + FRAME_HEADER_LENGTH, length, address, 'tls');
  }
  try {
    t.decoder.pushEach(buffer.subarray(start, end), t.handleFrame);
  } catch (e) {
    // The decoder's state is unknown after a throw: the tunnel ends either way.
    if (e instanceof FrameDecodeError) {
      t.o.counters.dropped('malformed');
      t.o.logger.info({ session: t.o.session.id, reason: e.message }, 'bad CSTP frame');
    } else t.fault(e);
    t.o.transport.destroy();
    t.finish(e instanceof FrameDecodeError ? 'protocol error' : 'internal error');
  }
}

/**
 * Steps 2–3 for the datagram channel (DTLS): each delivery is one whole CSTP frame, never a piece
 * of the TLS byte stream, so it must not go through the TLS stream's decoder (which may hold half
 * a frame of the TLS connection's): DATA goes straight to the device, a control frame straight to
 * the frame handler.
 */
export function fromDatagram(
  t: TunnelState,
  buffer: Buffer,
  start: number,
  end: number,
  address: number,
): void {
  if (t.closed) return;
  t.lastReceived = coarseNow;
  const length = wholeDataFrameLength(buffer, start, end, t.decoder.maxPayload);
  if (length >= 0) return toDevice(t, buffer, start + FRAME_HEADER_LENGTH, length, address, 'dtls');
  if (end - start < FRAME_HEADER_LENGTH || buffer[start + 6] === FrameType.data) {
    return t.o.counters.dropped('malformed', 1, 'dtls');
  }
  t.handleFrame({
    type: buffer[start + 6] as FrameType,
    payload: buffer.subarray(start + FRAME_HEADER_LENGTH, end),
  });
}

/** Step 3, the decoder's side: the handler of the frames it completes (one per tunnel). */
export function frameHandler(t: TunnelState): (frame: CstpFrame) => void {
  return (frame) => {
    const { session, transport } = t.o;
    if (t.closed) return;
    switch (frame.type) {
      case FrameType.data:
        return toDevice(t, frame.payload, 0, frame.payload.length, -1, 'tls');
      case FrameType.dpdRequest:
        // ocserv answers with the same payload, type flipped (worker-vpn.c parse_data).
        transport.sendFrame(FrameType.dpdResponse, frame.payload);
        return;
      case FrameType.dpdResponse:
      case FrameType.keepalive:
        return;
      case FrameType.disconnect: {
        // 0xb0 + text is a deliberate logout; an empty payload means AnyConnect will reconnect
        // (ocserv worker-vpn.c), so only the former ends the session.
        const kind = parseDisconnect(frame.payload).kind;
        t.o.logger.info({ session: session.id, kind }, 'client disconnected');
        t.finish(kind === 'user' ? clientLogout : 'client disconnect');
        transport.end();
        return;
      }
      default:
        t.o.counters.dropped('malformed');
    }
  };
}

/** Steps 4–5: the IP packet at `buffer[at, at + length)` (`address` = buffer's, or -1) into the TUN. */
function toDevice(
  t: TunnelState,
  buffer: Buffer,
  at: number,
  length: number,
  address: number,
  channel: Channel,
): void {
  const { session, counters } = t.o;
  const version = length > 0 ? buffer[at]! >> 4 : 0;
  if (version === 4 && length >= 20) {
    if (buffer.readUInt32BE(at + 12) !== t.ipv4) return counters.dropped('spoofed', 1, channel);
  } else {
    const source = packetAddress(buffer.subarray(at, at + length), 'source');
    if (source === undefined) return counters.dropped('malformed', 1, channel);
    if (source !== session.ipv4 && source !== session.ipv6) return counters.dropped('spoofed', 1, channel);
  }
  session.bytesIn += length;
  session.packetsIn++;
  t.lastData = coarseNow;
  let written: boolean;
  try {
    written =
      address >= 0 && t.o.toTunFrom
        ? t.o.toTunFrom(buffer, at, length, address)
        : t.o.toTun(buffer.subarray(at, at + length));
  } catch (e) {
    return t.fault(e);
  }
  if (!written) counters.dropped('tun-full', 1, channel);
}
