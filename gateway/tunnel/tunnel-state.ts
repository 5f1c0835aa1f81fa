import type { Logger } from 'pino';
import type { CstpFrame, CstpFrameDecoder } from '../cstp/index.js';
import type { Session } from '../session/session.js';
import type { TunnelCounters } from './counters.js';
import type { TunnelTransport } from './transport.js';

export interface TunnelTimers {
  /**
   * Seconds. Clients send DPD requests every `dpd` seconds; like ocserv, after 2×dpd of silence we
   * probe, after 3×dpd the peer is dead.
   */
  dpd: number;
  /** Seconds without data in either direction after which the session ends. */
  idle: number;
}

/** What a tunnel logs through: a pino logger, or one session's (gateway/control/session-logger.ts). */
export type TunnelLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

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
  logger: TunnelLog;
  onClose: (reason: string) => void;
}

/**
 * One tunnel as its packet path sees it: what inbound.ts and outbound.ts read and write.
 * CstpTunnel (cstp-tunnel.ts) is the one implementation, so every call here stays monomorphic.
 */
export interface TunnelState {
  readonly o: TunnelOptions;
  readonly decoder: CstpFrameDecoder;
  /** The session's IPv4 address as a number, for the per-packet source check. */
  readonly ipv4: number;
  /** Where DATA frames go out: the datagram transport while one is attached, else `o.transport`. */
  readonly sender: TunnelTransport;
  /** Frames the streaming decoder completes (inbound.ts frameHandler). */
  readonly handleFrame: (frame: CstpFrame) => void;
  /** Times (coarse clock, liveness.ts) of the last bytes and of the last packet either way. */
  lastReceived: number;
  lastData: number;
  readonly closed: boolean;
  /** A fault of our own packet path: the packet is dropped and counted; the tunnel carries on. */
  fault(error: unknown): void;
  /** The tunnel ends (once). */
  finish(reason: string): void;
}
