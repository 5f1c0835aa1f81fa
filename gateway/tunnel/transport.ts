import type { FrameType } from '../cstp/index.js';

/** Which record layer carries a tunnel: Outpost's own (after the takeover) or OpenSSL's. */
export type RecordLayerKind = 'outpost' | 'openssl';

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
 * The byte pipe a CSTP tunnel runs over once CONNECT was answered. Every frame travels in a TLS
 * record of its own (openconnect 9.01 rejects records holding several frames, "Unexpected packet
 * length"); implementations batch records, never frames, into socket writes.
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
  /** Graceful end: `lastFrame` (e.g. TERMINATE), close_notify, then FIN; destroyed after `graceMs`. */
  end(lastFrame?: FrameType, graceMs?: number): void;
  destroy(): void;
  /** Called about once a second (the tunnel's liveness sweep): a chance to shed idle state. */
  idle?(now: number): void;
}
