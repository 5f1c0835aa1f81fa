import type { FrameType } from '../cstp/index.js';

/** The control frame a transport sends last, before its close (`TunnelTransport.end`). */
export interface LastFrame {
  type: FrameType;
  payload?: Uint8Array;
}

/** Which record layer carries a tunnel: Outpost's own (after the takeover) or OpenSSL's. */
export type RecordLayerKind = 'outpost' | 'openssl';

/** What a transport calls on its tunnel; the tunnel sets them once, with `setHandlers`. */
export interface TransportHandlers {
  /**
   * CSTP bytes from the client, in order, any split: `buffer[start, end)`, valid only during
   * the call. `address` is the native address of `buffer`, or -1 when unknown. Outpost's record
   * layer hands over one whole record each time.
   */
  data(buffer: Buffer, start: number, end: number, address: number): void;
  /** The connection ended (once); no more data will come. */
  closed(reason: string): void;
}

/**
 * The seam between a CSTP tunnel (cstp-tunnel.ts, inbound.ts, outbound.ts) and what carries its
 * frames once CONNECT was answered. The tunnel sends to a transport and receives from it through
 * this interface only; it never sees sockets, records or keys. Implementations today: the TLS
 * record transport (gateway/tls/record-transport.ts, Outpost's record layer after the takeover)
 * and its fallback on OpenSSL (gateway/tls/openssl-transport.ts). Over TLS every frame travels in
 * a record of its own (openconnect 9.01 rejects records holding several frames, "Unexpected
 * packet length"); implementations batch records, never frames, into socket writes.
 *
 * For the implementer of a second transport (a datagram channel, DTLS over UDP):
 * - Two at once. A tunnel always has its TLS transport (the one it was opened with: CONNECT,
 *   control frames, the end of the tunnel) and may have one datagram transport beside it,
 *   attached with `CstpTunnel.attachDatagram` once the channel is up. While attached, DATA frames
 *   go out on it and not on TLS (outbound.ts); when it closes, the tunnel falls back to TLS by
 *   itself and the tunnel lives on. Control frames (DPD answers, the server's DISCONNECT) stay on TLS.
 * - Receive: call `handlers.data` with CSTP frames, in the same form TLS delivers them: each
 *   datagram as one whole frame (8-byte header + payload), so the inbound fast path
 *   (gateway/cstp/data-frame.ts) takes it in place. A datagram protocol with its own smaller
 *   header (AnyConnect DTLS: one type byte) can write the CSTP header in place over the bytes
 *   its record header and nonce used, in front of the payload: no copy. Pass the buffer's native
 *   address when known (the TUN write is then a memcpy). Answer the channel's own liveness
 *   (its DPD and keepalive) inside the transport; hand up DATA and DISCONNECT. The buffer is
 *   yours again when `data` returns.
 * - Send: `sendPacket` frames and seals one IP packet. It must copy what it needs before it
 *   returns (the packet sits in a ring that is refilled), never throw for a peer's doing, and
 *   allocate nothing per packet (seal into pooled buffers, as record-transport.ts does).
 * - Backpressure: when the peer is not draining (socket or send queue above `maxQueuedBytes`,
 *   a UDP send that would block) `sendPacket` returns false; the tunnel counts the packet as
 *   dropped with reason `backpressure` (counters.ts). Never queue without bound.
 * - Counters: the tunnel counts drops (counters.ts `dropReasons`: spoofed, malformed,
 *   backpressure, tun-full, internal) and session bytes/packets; a transport reports only its own
 *   record-level failures (`TlsFailure`: bad-record-mac, record-error, peer-alert), through the
 *   callback it was built with, then closes. Fixed label sets: add a kind there, not a string.
 * - Close: `end` sends `lastFrame` if given, then the protocol's close (close_notify), and lets
 *   the peer go within `graceMs`; `destroy` drops it now. Either way, and when the peer or the
 *   network ends it, call `handlers.closed` exactly once; nothing is delivered after it.
 * - Idle: `idle(now)` is called about once a second by the tunnel's liveness sweep while it
 *   returns true; a transport may release per-connection buffers there (record-transport.ts
 *   hibernates its EVP contexts). Returning false says it has nothing left to do
 *   until there is traffic again: a quiet tunnel is then visited only near its DPD and idle
 *   deadlines (at least every liveness.ts `maxWaitMs`). A datagram transport is called every
 *   second while it is attached, whatever it returns (its own DPD runs there).
 */
export interface TunnelTransport {
  readonly kind: RecordLayerKind;
  /** TLS version and cipher, for the log. */
  readonly protocol: string;
  setHandlers(handlers: TransportHandlers): void;
  /**
   * One DATA frame with the IP packet `data[offset, offset + length)`; `address` is the native
   * address of `data` or -1. False when dropped because the client is not reading.
   */
  sendPacket(data: Buffer, offset: number, length: number, address: number): boolean;
  /** A control frame (DPD, keepalive); never dropped. */
  sendFrame(type: FrameType, payload?: Uint8Array): void;
  /** Graceful end: `lastFrame` (the server's DISCONNECT), close_notify, then FIN; destroyed after `graceMs`. */
  end(lastFrame?: LastFrame, graceMs?: number): void;
  destroy(): void;
  /**
   * Called about once a second (the tunnel's liveness sweep): a chance to shed idle state. True
   * while it wants the next second's call too.
   */
  idle?(now: number): boolean;
}
