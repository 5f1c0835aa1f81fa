/**
 * The outbound packet path: corporate network → client. One packet, top to bottom:
 *
 *  1. TUN. The kernel routes a packet for a client's address into the TUN; LinuxTunDevice's
 *     reader thread reads it into a shared ring, many per batch (gateway/tun/linux-tun-device.ts,
 *     tun-reader-worker-source.ts, packet-ring.ts), and the device hands each batch to its one
 *     `onPackets` handler: offsets into one buffer, no per-packet allocation.
 *  2. Route. Each packet goes to the tunnel of its destination address: `routeBatch`, here
 *     (local-tunnels.ts keeps the address maps); a packet for no tunnel is left alone.
 *  3. Tunnel. `toClient`, here: the DATA frame goes to the tunnel's sender (the datagram
 *     transport while one is attached, else TLS); a client that is not draining costs the packet
 *     (dropped, counted as `backpressure`), never a buffer without bound.
 *  4. Frame and TLS record. The transport writes the CSTP DATA header and seals the frame into a
 *     TLS record of its own, straight into a pooled chunk (RecordTransport.sendPacket,
 *     gateway/tls/record-transport.ts; RecordLayer.begin/end, gateway/tls/record-layer.ts).
 *  5. Socket. Sealed records leave many per socket write: at the end of the event loop's turn,
 *     or once `flushBytes` wait (RecordTransport.flush).
 *
 * Nothing throws: a fault in our own path drops the packet and is counted (`internal`).
 */
import type { PacketBatch } from '../tun/packet-batch.js';
import { coarseNow } from './liveness.js';
import { packetAddress } from './packet-address.js';
import type { TunnelState } from './tunnel-state.js';

/** Step 2: packets read from the TUN, each to the tunnel of its destination address. */
export function routeBatch(
  batch: PacketBatch,
  byIpv4: ReadonlyMap<number, TunnelState>,
  byIpv6: ReadonlyMap<string, TunnelState>,
): void {
  const { data, offsets, lengths, count } = batch;
  const address = batch.address ?? -1;
  for (let i = 0; i < count; i++) {
    const at = offsets[i]!;
    const length = lengths[i]!;
    const version = length > 0 ? data[at]! >> 4 : 0;
    let tunnel: TunnelState | undefined;
    if (version === 4 && length >= 20) tunnel = byIpv4.get(data.readUInt32BE(at + 16));
    else {
      const destination = packetAddress(data.subarray(at, at + length), 'destination');
      tunnel = destination ? byIpv6.get(destination) : undefined;
    }
    if (tunnel) toClient(tunnel, data, at, length, address);
  }
}

/** Steps 3–5: the packet `data[offset, offset + length)` (`address` = data's or -1) to the client. */
export function toClient(
  t: TunnelState,
  data: Buffer,
  offset: number,
  length: number,
  address: number,
): void {
  const { session, counters } = t.o;
  if (t.closed) return;
  let sent: boolean;
  try {
    sent = t.sender.sendPacket(data, offset, length, address);
  } catch (e) {
    return t.fault(e);
  }
  if (!sent) {
    counters.dropped('backpressure', 1, t.sender === t.o.transport ? 'tls' : 'dtls');
    return;
  }
  session.bytesOut += length;
  session.packetsOut++;
  t.lastData = coarseNow;
}
