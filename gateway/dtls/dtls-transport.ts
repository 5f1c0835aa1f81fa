import { FRAME_HEADER_LENGTH, type FrameType, FrameType as Type, writeFrameHeader } from '../cstp/index.js';
import type { Evp } from '../tls/evp.js';
import type { RecordLayerKind, TransportHandlers, TunnelTransport } from '../tunnel/transport.js';
import { DTLS_RECORD_HEADER_LENGTH } from './codec/record.js';
import type { DtlsChannel } from './dtls-channel.js';
import type { DtlsStats } from './dtls-stats.js';
import type { Destination } from './mmsg-sender.js';
import type { DatagramSender } from './udp-socket.js';

export interface DtlsTransportOptions {
  evp: Evp;
  channel: DtlsChannel;
  socket: DatagramSender;
  /**
   * The tunnel's TLS transport: packets too large for a DTLS record within the link MTU go there
   * (ocserv does the same on GNUTLS_E_LARGE_PACKET), as does everything once the channel closed.
   */
  fallback: TunnelTransport;
  /** Largest IP packet sent over DTLS (the data MTU the CONNECT answer gave). */
  dataMtu: number;
  /** Seconds: after 2×dpd without a record from the client we probe, after 3×dpd the channel is dead. */
  dpd: number;
  /** Sealed bytes waiting in the socket beyond which packets are dropped (backpressure). */
  maxQueuedBytes: number;
  stats: DtlsStats;
  now?: () => number;
}

/** A tunnel without a DTLS record either way for this long gives up its EVP contexts until the next. */
const hibernateAfterMs = 10_000;

/**
 * CSTP over DTLS, the tunnel's datagram transport (gateway/tunnel/transport.ts): each record
 * carries one AnyConnect DTLS payload, a type byte (AC_PKT_*, the CSTP frame types) followed by
 * its data (ocserv worker-vpn.c parse_dtls_data, openconnect dtls.c dtls_mainloop).
 *
 * Inbound, DATA and DISCONNECT go up to the tunnel as CSTP frames: the 8-byte CSTP header is
 * written in place over the end of the record header and nonce, in front of the payload, so the
 * tunnel's fast path takes the packet where it was decrypted. DPD requests are answered here, on
 * DTLS, with the request's own bytes (the client probes its MTU with padded DPDs, openconnect
 * dtls.c probe_mtu); DPD responses and keepalives go up too (they keep the tunnel alive).
 * Outbound, each packet is sealed into a pooled chunk and sent as one datagram.
 */
export class DtlsTransport implements TunnelTransport {
  readonly kind: RecordLayerKind = 'outpost';
  readonly protocol: string;
  private handlers: TransportHandlers | undefined;
  private readonly o: DtlsTransportOptions;
  private readonly now: () => number;
  private lastReceived: number;
  private lastProbe = 0;
  private lastActive: number;
  private closed = false;
  private readonly to: Destination;

  constructor(o: DtlsTransportOptions) {
    this.o = o;
    this.to = o.socket.destination(o.channel.address, o.channel.port);
    this.now = o.now ?? Date.now;
    this.protocol = o.channel.protocol;
    this.lastReceived = this.lastActive = this.now();
    o.channel.setHandlers({
      data: (buffer, start, end, address) => this.receive(buffer, start, end, address),
      closed: (reason) => this.onClosed(reason),
    });
  }

  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  sendPacket(data: Buffer, offset: number, length: number, address: number): boolean {
    const { channel, socket, stats } = this.o;
    if (this.closed || length > this.o.dataMtu) {
      stats.toTls++;
      return this.o.fallback.sendPacket(data, offset, length, address);
    }
    if (socket.queuedBytes > this.o.maxQueuedBytes) return false;
    const chunk = socket.pool.take();
    const at = DTLS_RECORD_HEADER_LENGTH + channel.prefix;
    chunk.buffer[at] = Type.data;
    if (address >= 0) this.o.evp.copy(chunk.address + at + 1, address + offset, length);
    else data.copy(chunk.buffer, at + 1, offset, offset + length);
    const sealed = channel.seal(chunk.buffer, chunk.address, 0, length + 1);
    socket.send(chunk, sealed, this.to);
    stats.packetsOut++;
    stats.bytesOut += length;
    return true;
  }

  /** A control payload on DTLS (our DPD probe); the tunnel's own control frames stay on TLS. */
  sendFrame(type: FrameType, payload?: Uint8Array): void {
    if (this.closed) return;
    const body = Buffer.allocUnsafe(1 + (payload?.length ?? 0));
    body[0] = type;
    if (payload) body.set(payload, 1);
    this.o.channel.sendPayload(body);
  }

  end(): void {
    this.o.channel.close('tunnel ended');
  }

  destroy(): void {
    this.o.channel.close('tunnel ended', true);
  }

  /**
   * About once a second: DPD of the DTLS channel itself, as ocserv's periodic check does it
   * (worker-vpn.c: DPD_TRIES 2, DPD_MAX_TRIES 3). Its end makes the tunnel fall back to TLS; the
   * client notices on its side with its own DTLS DPD and handshakes again when UDP works.
   */
  idle(now: number): boolean {
    if (this.closed) return false;
    if (this.o.channel.takeActivity()) this.lastReceived = now;
    const dpdMs = this.o.dpd * 1000;
    const silent = now - this.lastReceived;
    if (silent > 3 * dpdMs) {
      this.o.channel.close('DTLS dead peer (DPD)', true);
      return false;
    }
    if (silent > 2 * dpdMs && now - this.lastProbe > dpdMs) {
      this.lastProbe = now;
      this.sendFrame(Type.dpdRequest);
    }
    if (silent < 1000) this.lastActive = now;
    else if (now - this.lastActive >= hibernateAfterMs) this.o.channel.hibernate();
    // Its DPD needs every second's call (the tunnel makes them while the channel is attached).
    return true;
  }

  private receive(buffer: Buffer, start: number, end: number, address: number): void {
    const type = buffer[start]!;
    switch (type) {
      case Type.data:
      case Type.disconnect:
      case Type.dpdResponse:
      case Type.keepalive:
        if (type === Type.data) {
          this.o.stats.packetsIn++;
          this.o.stats.bytesIn += end - start - 1;
        }
        return this.up(buffer, start, end, address);
      case Type.dpdRequest:
        // ocserv answers with the same bytes, type flipped: openconnect's MTU probes carry an ID.
        buffer[start] = Type.dpdResponse;
        this.o.channel.sendPayload(buffer.subarray(start, end));
        return;
      default:
        // COMPRESSED is never negotiated; anything else has no meaning on DTLS.
        this.o.stats.drops['unexpected-record']++;
    }
  }

  /** The payload as a CSTP frame, its 8-byte header written in place just before it. */
  private up(buffer: Buffer, start: number, end: number, address: number): void {
    const h = start + 1 - FRAME_HEADER_LENGTH; // the record header and nonce lie there (≥ 13 bytes)
    // The type byte is read before the header's last byte overwrites it.
    writeFrameHeader(buffer, h, buffer[start] as FrameType, end - start - 1);
    this.handlers?.data(buffer, h, end, address);
  }

  private onClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.closed(reason);
  }
}
