import type { Logger } from 'pino';
import { frameMagic } from '../cstp/frame.js';
import {
  type CstpFrame,
  CstpFrameDecoder,
  FRAME_HEADER_LENGTH,
  FrameDecodeError,
  FrameType,
  parseDisconnect,
} from '../cstp/index.js';
import type { Session } from '../session/session.js';
import type { TlsFailure } from '../tls/record-transport.js';
import { packetAddress } from './packet-address.js';
import type { RecordLayerKind, TunnelTransport } from './transport.js';

export interface TunnelTimers {
  /**
   * Seconds. Clients send DPD requests every `dpd` seconds; like ocserv, after 2×dpd of silence we
   * probe, after 3×dpd the peer is dead.
   */
  dpd: number;
  /** Seconds without data in either direction after which the session ends. */
  idle: number;
}

/**
 * Why a packet was dropped (the `reason` label of outpost_gateway_dropped_packets_total): a fixed
 * set. `internal` is a fault in Outpost's own packet path, caught where it happened: that packet
 * is lost, the tunnel and the process carry on.
 */
export const dropReasons = ['spoofed', 'malformed', 'backpressure', 'tun-full', 'internal'] as const;
export type DropReason = (typeof dropReasons)[number];

export interface TunnelCounters {
  /** `count` packets (default 1) dropped for `reason`. */
  dropped(reason: DropReason, count?: number): void;
  /** Tunnels started (default 1), on Outpost's record layer or on OpenSSL's. */
  tunnelOpened?(recordLayer: RecordLayerKind, count?: number): void;
  /** Taken-over connections that failed at the TLS record level (they are closed). */
  tlsFailure?(kind: TlsFailure, count?: number): void;
}

export interface TunnelOptions {
  /** The CONNECT-answered connection; any bytes past the request arrive through it first. */
  transport: TunnelTransport;
  session: Session;
  mtu: number;
  timers: TunnelTimers;
  /** Writes one IP packet into the TUN; false when it could not (counted as a drop). */
  toTun: (packet: Buffer) => boolean;
  /** The same for `buffer[at, at + length)` with buffer's native address (no view made); optional. */
  toTunFrom?: (buffer: Buffer, at: number, length: number, address: number) => boolean;
  counters: TunnelCounters;
  logger: Logger;
  onClose: (reason: string) => void;
}

/** The reason a tunnel ends with when the user logged out: the session ends with it. */
export const clientLogout = 'client logout';

/**
 * Open tunnels, checked for DPD and idle timeouts once a second by one shared timer (not a timer
 * per tunnel: with tens of thousands of idle sessions that is one Timeout object each and as many
 * callbacks every second). The timer runs only while a tunnel is open.
 */
const liveTunnels = new Set<CstpTunnel>();
let livenessTimer: NodeJS.Timeout | undefined;
/**
 * The time the packet path stamps activity with, advanced by the liveness timer: DPD and idle
 * limits are whole seconds, so a clock read per packet would buy nothing.
 */
let coarseNow = Date.now();

function watchLiveness(tunnel: CstpTunnel): void {
  liveTunnels.add(tunnel);
  if (livenessTimer) return;
  coarseNow = Date.now();
  livenessTimer = setInterval(() => {
    const now = Date.now();
    coarseNow = now;
    // A tunnel that ends during the sweep removes itself; deleting the visited entry is safe.
    for (const t of liveTunnels) t.checkLiveness(now);
  }, 1000);
  livenessTimer.unref();
}

/** An IPv4 address as the unsigned 32-bit number packet headers carry; -1 for anything else. */
export function ipv4Number(address: string | undefined): number {
  const parts = address?.split('.');
  if (parts?.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!Number.isInteger(octet) || octet < 0 || octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value;
}

function unwatchLiveness(tunnel: CstpTunnel): void {
  liveTunnels.delete(tunnel);
  if (liveTunnels.size === 0 && livenessTimer) {
    clearInterval(livenessTimer);
    livenessTimer = undefined;
  }
}

/**
 * One client's CSTP tunnel over its transport (transport.ts: Outpost's record layer, or
 * OpenSSL's). Frames from the client go to the TUN (after a source-address check); packets for
 * the client become DATA frames, each in a TLS record of its own.
 */
export class CstpTunnel {
  private readonly decoder: CstpFrameDecoder;
  private lastReceived = Date.now();
  private lastData = Date.now();
  private lastProbe = 0;
  private closed = false;
  private faulted = false;
  /** The session's IPv4 address as a number, for the per-packet source check. */
  private readonly ipv4: number;

  constructor(private readonly o: TunnelOptions) {
    this.decoder = new CstpFrameDecoder({ mtu: Math.max(o.mtu, 1500) });
    this.ipv4 = ipv4Number(o.session.ipv4);
    watchLiveness(this);
    o.session.disconnect = (reason) => this.terminate(reason);
    o.transport.setHandlers({
      data: (buffer, start, end, address) => this.receive(buffer, start, end, address),
      closed: (reason) => this.finish(reason),
    });
  }

  /** A packet from the TUN for this client: `data[offset, offset + length)`, `address` = data's or -1. */
  sendPacket(data: Buffer, offset: number, length: number, address: number): void {
    const { transport, session, counters } = this.o;
    if (this.closed) return;
    let sent: boolean;
    try {
      sent = transport.sendPacket(data, offset, length, address);
    } catch (e) {
      return this.fault(e);
    }
    if (!sent) {
      counters.dropped('backpressure');
      return;
    }
    session.bytesOut += length;
    session.packetsOut++;
    this.lastData = coarseNow;
  }

  /** Server-initiated end (revocation, timeout, shutdown): tell the client, then close. */
  terminate(reason: string): void {
    if (this.closed) return;
    this.o.logger.info({ session: this.o.session.id, reason }, 'terminating tunnel');
    this.o.transport.end(FrameType.terminate);
    this.finish(reason);
  }

  /**
   * CSTP bytes from the client. The common case, one whole DATA frame in the record just opened,
   * is handled in place; anything else goes through the streaming decoder.
   */
  private receive(buffer: Buffer, start: number, end: number, address: number): void {
    if (this.closed) return;
    this.lastReceived = coarseNow;
    const length = end - start - FRAME_HEADER_LENGTH;
    if (
      address >= 0 &&
      length >= 0 &&
      this.decoder.pendingBytes === 0 &&
      buffer[start] === frameMagic[0] &&
      buffer[start + 1] === frameMagic[1] &&
      buffer[start + 2] === frameMagic[2] &&
      buffer[start + 3] === frameMagic[3] &&
      buffer[start + 6] === FrameType.data &&
      buffer[start + 7] === 0 &&
      ((buffer[start + 4]! << 8) | buffer[start + 5]!) === length &&
      length <= this.decoder.maxPayload
    ) {
      return this.fromClientAt(buffer, start + FRAME_HEADER_LENGTH, length, address);
    }
    try {
      this.decoder.pushEach(buffer.subarray(start, end), this.handleFrame);
    } catch (e) {
      // The decoder's state is unknown after a throw: the tunnel ends either way.
      if (e instanceof FrameDecodeError) {
        this.o.counters.dropped('malformed');
        this.o.logger.info({ session: this.o.session.id, reason: e.message }, 'bad CSTP frame');
      } else this.fault(e);
      this.o.transport.destroy();
      this.finish(e instanceof FrameDecodeError ? 'protocol error' : 'internal error');
    }
  }

  private readonly handleFrame = (frame: CstpFrame): void => {
    const { session, transport } = this.o;
    if (this.closed) return;
    switch (frame.type) {
      case FrameType.data:
        return this.fromClient(frame.payload);
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
        this.o.logger.info({ session: session.id, kind }, 'client disconnected');
        this.finish(kind === 'user' ? clientLogout : 'client disconnect');
        transport.end();
        return;
      }
      default:
        this.o.counters.dropped('malformed');
    }
  };

  private fromClient(packet: Buffer): void {
    this.fromClientAt(packet, 0, packet.length, -1);
  }

  /** An IP packet from the client at `buffer[at, at + length)` (`address` = buffer's, or -1). */
  private fromClientAt(buffer: Buffer, at: number, length: number, address: number): void {
    const { session, counters } = this.o;
    const version = length > 0 ? buffer[at]! >> 4 : 0;
    if (version === 4 && length >= 20) {
      if (buffer.readUInt32BE(at + 12) !== this.ipv4) return counters.dropped('spoofed');
    } else {
      const source = packetAddress(buffer.subarray(at, at + length), 'source');
      if (source === undefined) return counters.dropped('malformed');
      if (source !== session.ipv4 && source !== session.ipv6) return counters.dropped('spoofed');
    }
    session.bytesIn += length;
    session.packetsIn++;
    this.lastData = coarseNow;
    let written: boolean;
    try {
      written =
        address >= 0 && this.o.toTunFrom
          ? this.o.toTunFrom(buffer, at, length, address)
          : this.o.toTun(buffer.subarray(at, at + length));
    } catch (e) {
      return this.fault(e);
    }
    if (!written) counters.dropped('tun-full');
  }

  /**
   * A fault in our own packet path (not the client's doing): the packet is dropped and counted,
   * the first one of this tunnel is logged with its stack; the tunnel carries on.
   */
  private fault(error: unknown): void {
    this.o.counters.dropped('internal');
    if (this.faulted) return;
    this.faulted = true;
    this.o.logger.error(
      { session: this.o.session.id, err: error },
      'packet dropped: fault in the packet path (further ones on this tunnel are only counted)',
    );
  }

  /** Called about once a second by the shared liveness timer. */
  checkLiveness(now: number): void {
    const { dpd, idle } = this.o.timers;
    const silent = now - this.lastReceived;
    if (silent > 3 * dpd * 1000) return this.terminate('dead peer (DPD)');
    if (silent > 2 * dpd * 1000 && now - this.lastProbe > dpd * 1000) {
      this.lastProbe = now;
      this.o.transport.sendFrame(FrameType.dpdRequest);
    }
    if (now - this.lastData > idle * 1000) return this.terminate('idle timeout');
    this.o.transport.idle?.(now);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    unwatchLiveness(this);
    this.o.session.disconnect = undefined;
    this.o.onClose(reason);
  }
}
