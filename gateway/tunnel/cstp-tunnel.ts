import {
  type CstpFrame,
  CstpFrameDecoder,
  FrameType,
  type ServerDisconnectReason,
  serverDisconnectPayload,
  wholeDataFrameLength,
} from '../cstp/index.js';
import { frameHandler, fromDatagram, fromTransport } from './inbound.js';
import { unwatchLiveness, watchLiveness } from './liveness.js';
import { toClient } from './outbound.js';
import type { TransportHandlers, TunnelTransport } from './transport.js';
import type { TunnelOptions, TunnelState } from './tunnel-state.js';

/**
 * The end of a tunnel that asks the client to come back: no DISCONNECT or TERMINATE frame, only
 * close_notify. openconnect (cstp.c) quits on a DISCONNECT or TERMINATE frame ("Server request"), but a read
 * error or a closed TLS connection takes it to do_reconnect, which reconnects with its cookie at
 * once (ssl.c ssl_reconnect) — through the balancer to another node when this one drains with
 * --migrate.
 */
export const reconnectElsewhere: ServerDisconnectReason = 'moved to another node';

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

/**
 * One client's CSTP tunnel over its transport (transport.ts: Outpost's record layer, or
 * OpenSSL's): its state, its liveness and its end. The packet path itself reads top to bottom in
 * inbound.ts (client → TUN: frames, source-address check) and outbound.ts (TUN → client: each
 * packet a DATA frame in a TLS record of its own), functions over this state.
 */
export class CstpTunnel implements TunnelState {
  // State of the packet path (tunnel-state.ts), read and written by inbound.ts and outbound.ts.
  readonly decoder: CstpFrameDecoder;
  lastReceived = Date.now();
  lastData = Date.now();
  closed = false;
  /** The session's IPv4 address as a number, for the per-packet source check. */
  readonly ipv4: number;
  /**
   * Where DATA frames go out: the datagram transport while one is attached, else the TLS one
   * (`o.transport`, which keeps the control frames and the end of the tunnel).
   */
  sender: TunnelTransport;
  /** The datagram transport (DTLS) while one is attached. */
  private datagram: TunnelTransport | undefined;
  /** Frames the streaming decoder completes (inbound.ts); one closure per tunnel. */
  readonly handleFrame: (frame: CstpFrame) => void;
  private lastProbe = 0;
  private faulted = false;

  constructor(readonly o: TunnelOptions) {
    this.decoder = new CstpFrameDecoder({ mtu: Math.max(o.mtu, 1500) });
    this.ipv4 = ipv4Number(o.session.ipv4);
    this.sender = o.transport;
    this.handleFrame = frameHandler(this);
    watchLiveness(this);
    o.session.disconnect = (reason) => this.terminate(reason);
    o.transport.setHandlers(new TlsHandlers(this));
  }

  /** A packet from the TUN for this client: `data[offset, offset + length)`, `address` = data's or -1. */
  sendPacket(data: Buffer, offset: number, length: number, address: number): void {
    toClient(this, data, offset, length, address);
  }

  /**
   * A datagram channel beside TLS (transport.ts): DATA goes out on it from now on; frames it
   * delivers take the inbound path like TLS's. When it closes, DATA goes back to TLS and the
   * tunnel carries on.
   */
  attachDatagram(datagram: TunnelTransport): void {
    if (this.closed) return datagram.destroy();
    const previous = this.datagram;
    this.datagram = datagram;
    this.sender = datagram;
    previous?.destroy();
    datagram.setHandlers({
      data: (buffer, start, end, address) => {
        // DATA on the datagram channel again (after the client's packets went to TLS for a while).
        if (this.sender !== datagram && this.datagram === datagram && buffer[start + 6] === FrameType.data) {
          this.sender = datagram;
        }
        fromDatagram(this, buffer, start, end, address);
      },
      closed: () => {
        if (this.datagram === datagram) this.datagram = undefined;
        if (this.sender === datagram) this.sender = this.o.transport;
      },
    });
  }

  /**
   * Server-initiated end (revocation, timeout, shutdown): tell the client why with a DISCONNECT,
   * the frame ocserv ends tunnels with (gateway/cstp/disconnect.ts), then close. A migration
   * (`reconnectElsewhere`) sends no frame at all, so that the client reconnects.
   */
  terminate(reason: ServerDisconnectReason): void {
    if (this.closed) return;
    this.o.logger.info({ session: this.o.session.id, reason }, 'terminating tunnel');
    this.o.transport.end(
      reason === reconnectElsewhere
        ? undefined
        : { type: FrameType.disconnect, payload: serverDisconnectPayload(reason) },
    );
    this.finish(reason);
  }

  /**
   * A fault in our own packet path (not the client's doing): the packet is dropped and counted,
   * the first one of this tunnel is logged with its stack; the tunnel carries on.
   */
  fault(error: unknown): void {
    this.o.counters.dropped('internal');
    if (this.faulted) return;
    this.faulted = true;
    this.o.logger.error(
      { session: this.o.session.id, err: error },
      'packet dropped: fault in the packet path (further ones on this tunnel are only counted)',
    );
  }

  /**
   * Called by the shared liveness timer (liveness.ts) when due; returns when it is due next.
   * Every second while a DPD probe is outstanding, while a datagram channel is attached (its own
   * DPD runs on this call) and while the transport still has state to shed; otherwise not before
   * the DPD probe or the idle timeout could be due (activity meanwhile only moves them later).
   */
  checkLiveness(now: number): number {
    const { dpd, idle } = this.o.timers;
    const silent = now - this.lastReceived;
    if (silent > 3 * dpd * 1000) {
      this.terminate('DPD timeout');
      return Number.POSITIVE_INFINITY;
    }
    const probing = silent > 2 * dpd * 1000;
    if (probing && now - this.lastProbe > dpd * 1000) {
      this.lastProbe = now;
      this.o.transport.sendFrame(FrameType.dpdRequest);
    }
    if (now - this.lastData > idle * 1000) {
      this.terminate('idle timeout');
      return Number.POSITIVE_INFINITY;
    }
    const transportBusy = this.o.transport.idle?.(now) ?? false;
    if (this.datagram) {
      this.datagram.idle?.(now);
      return now;
    }
    if (probing || transportBusy) return now;
    // Strictly past each limit, as the checks above judge it.
    return Math.min(this.lastReceived + 2 * dpd * 1000, this.lastData + idle * 1000) + 1;
  }

  /** The tunnel ends (once): it leaves the liveness sweep and its tables (`onClose`). */
  finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    unwatchLiveness(this);
    // A datagram channel does not outlive its tunnel.
    this.datagram?.destroy();
    this.o.session.disconnect = undefined;
    this.o.onClose(reason);
  }
}

/**
 * What the TLS transport calls on its tunnel: an object with methods, not two closures (and the
 * constructor's context) kept per idle tunnel.
 */
class TlsHandlers implements TransportHandlers {
  constructor(private readonly t: CstpTunnel) {}

  data(buffer: Buffer, start: number, end: number, address: number): void {
    const t = this.t;
    const tls = t.o.transport;
    // DATA on TLS while a datagram channel is attached: the client gave that channel up on its
    // side (its DTLS DPD failed); packets to it follow it to TLS, as in ocserv
    // (worker-vpn.c parse_cstp_data).
    if (t.sender !== tls && wholeDataFrameLength(buffer, start, end, t.decoder.maxPayload) >= 0) {
      t.sender = tls;
    }
    fromTransport(t, buffer, start, end, address);
  }

  closed(reason: string): void {
    this.t.finish(reason);
  }
}
