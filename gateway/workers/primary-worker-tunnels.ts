import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerDisconnectReason } from '../cstp/index.js';
import type { DtlsStats } from '../dtls/dtls-stats.js';
import type { DtlsSessionParams } from '../dtls/server-handshake.js';
import type { Session } from '../session/session.js';
import type { TakenOver } from '../tls/tls-connection.js';
import type { TunnelCounters } from '../tunnel/counters.js';
import type { TunnelTimers } from '../tunnel/tunnel-state.js';
import {
  encodeDtls,
  encodeKeys,
  type PrimaryMessage,
  parseDropKey,
  parseWorkerMessage,
  type WorkerMessage,
} from './protocol.js';

/** The primary's end of one worker's IPC channel (container/ implements it with child_process). */
export interface WorkerChannel {
  /** Sends a message, with a socket handle when given; throws when the channel is closed. */
  send(message: PrimaryMessage, socket?: Socket): void;
}

export interface RemoteTunnelStart {
  session: Session;
  mtu: number;
  timers: TunnelTimers;
  /** Once, when the tunnel ends, unless a newer tunnel of the session replaced it first. */
  onClose: (reason: string) => void;
  /** The DTLS channel the CONNECT answer offered (the worker's UDP socket serves it). */
  dtls?: { id: Buffer; params: DtlsSessionParams };
}

interface RemoteTunnel extends RemoteTunnelStart {
  serial: number;
  worker: number;
  /** Counters last reported for this tunnel (its own, from 0), to add only what moved. */
  seen: [number, number, number, number];
}

/**
 * The primary's view of tunnels that run in worker processes (gateway.workers > 1). A tunnel is
 * handed over after the CONNECT answer (its socket and record keys go in an `open` message); from
 * then on the worker owns the connection and reports counters and the end. Sessions, cookies and
 * address leases stay here, so `sessions list`, `sessions disconnect`, revocation and reconnects
 * work as with one process: a reconnect keeps its addresses, and so lands on the same worker.
 */
export class WorkerTunnels {
  private readonly channels = new Map<number, WorkerChannel>();
  private readonly bySerial = new Map<number, RemoteTunnel>();
  /** The current tunnel of each session (a replaced one may still report its end later). */
  private readonly current = new Map<string, number>();
  private nextSerial = 1;
  private closing = false;

  constructor(
    private readonly counters: TunnelCounters,
    private readonly logger: Logger,
    /** Where the workers' DTLS counters add up (metrics). */
    private readonly dtlsStats?: DtlsStats,
  ) {}

  get size(): number {
    return this.current.size;
  }

  available(worker: number): boolean {
    return this.channels.has(worker);
  }

  /** The worker said `ready`: tunnels may be sent to it. */
  attach(worker: number, channel: WorkerChannel): void {
    this.channels.set(worker, channel);
  }

  /** The worker is gone: its tunnels ended with it (their clients reconnect with their cookies). */
  detach(worker: number, reason: string): void {
    this.channels.delete(worker);
    for (const tunnel of [...this.bySerial.values()]) {
      if (tunnel.worker === worker) this.ended(tunnel, reason);
    }
  }

  /**
   * Shutdown: every worker ends all its tunnels at once (a DISCONNECT to each client), instead of
   * one `terminate` message per session; the sessions' own ends then send nothing.
   */
  shutdown(): void {
    this.closing = true;
    for (const [worker, channel] of this.channels) {
      try {
        channel.send({ type: 'shutdown' });
      } catch (e) {
        this.logger.warn({ worker, reason: (e as Error).message }, 'gateway worker not told to shut down');
      }
    }
  }

  /** Sends a taken-over connection to `worker`. */
  open(worker: number, taken: TakenOver, start: RemoteTunnelStart): void {
    const channel = this.channels.get(worker);
    const tunnel: RemoteTunnel = { ...start, serial: this.nextSerial++, worker, seen: [0, 0, 0, 0] };
    const { session } = start;
    const previous = this.current.get(session.id);
    if (previous !== undefined) this.terminateSerial(previous, 'replaced by a new connection');
    this.bySerial.set(tunnel.serial, tunnel);
    this.current.set(session.id, tunnel.serial);
    session.disconnect = (reason) => this.terminateSerial(tunnel.serial, reason);
    try {
      if (!channel) throw new Error('worker not running');
      channel.send(
        {
          type: 'open',
          tunnel: tunnel.serial,
          session: {
            id: session.id,
            username: session.identity.username,
            ...(session.identity.device ? { device: session.identity.device } : {}),
            remote: session.remoteAddress,
            ipv4: session.ipv4 ?? '',
            ...(session.ipv6 ? { ipv6: session.ipv6 } : {}),
          },
          mtu: start.mtu,
          timers: { dpd: start.timers.dpd, idle: start.timers.idle },
          keys: encodeKeys(taken.keys),
          sequences: taken.sequences,
          pending: taken.pending,
          head: taken.head,
          ...(start.dtls ? { dtls: encodeDtls(start.dtls.id, start.dtls.params) } : {}),
        },
        taken.socket,
      );
    } catch (e) {
      taken.socket.destroy();
      this.ended(tunnel, `gateway worker ${worker} unavailable: ${(e as Error).message}`);
    }
  }

  /** A message from worker `worker`'s channel. */
  receive(worker: number, raw: unknown): void {
    const { message, error } = parseWorkerMessage(raw);
    if (!message) {
      this.logger.warn({ worker, reason: error }, 'invalid message from a gateway worker ignored');
      return;
    }
    this.apply(worker, message);
  }

  private apply(worker: number, message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        return;
      case 'closed': {
        const tunnel = this.bySerial.get(message.tunnel);
        if (!tunnel || tunnel.worker !== worker) return;
        this.count(tunnel, message.counters);
        return this.ended(tunnel, message.reason);
      }
      case 'stats': {
        for (const [serial, ...values] of message.tunnels) {
          const tunnel = this.bySerial.get(serial);
          if (tunnel?.worker === worker) this.count(tunnel, values);
        }
        for (const [reason, n] of Object.entries(message.drops)) {
          const drop = parseDropKey(reason);
          if (n > 0 && drop) this.counters.dropped(drop.reason, n, drop.channel);
        }
        for (const [kind, n] of Object.entries(message.tlsFailures)) {
          if (n > 0 && isTlsFailure(kind)) this.counters.tlsFailure?.(kind, n);
        }
        if (message.opened > 0) this.counters.tunnelOpened?.('outpost', message.opened);
        if (message.dtls) this.dtlsStats?.add(message.dtls);
        return;
      }
    }
  }

  /** Adds what a tunnel moved since its last report to its session. */
  private count(tunnel: RemoteTunnel, values: readonly number[]): void {
    const [bytesIn = 0, bytesOut = 0, packetsIn = 0, packetsOut = 0] = values;
    const { seen, session } = tunnel;
    session.bytesIn += Math.max(0, bytesIn - seen[0]);
    session.bytesOut += Math.max(0, bytesOut - seen[1]);
    session.packetsIn += Math.max(0, packetsIn - seen[2]);
    session.packetsOut += Math.max(0, packetsOut - seen[3]);
    tunnel.seen = [bytesIn, bytesOut, packetsIn, packetsOut];
  }

  private terminateSerial(serial: number, reason: ServerDisconnectReason): void {
    const tunnel = this.bySerial.get(serial);
    if (!tunnel || this.closing) return;
    try {
      this.channels.get(tunnel.worker)?.send({ type: 'terminate', tunnel: serial, reason });
    } catch {
      // The worker is gone; its exit ends the tunnel.
    }
  }

  private ended(tunnel: RemoteTunnel, reason: string): void {
    this.bySerial.delete(tunnel.serial);
    const { session } = tunnel;
    if (this.current.get(session.id) !== tunnel.serial) return;
    this.current.delete(session.id);
    // No per-tunnel child logger is kept: tens of thousands of idle tunnels would each hold one.
    this.logger.info(
      {
        session: session.id,
        user: session.identity.username,
        remote: session.remoteAddress,
        worker: tunnel.worker,
        reason,
      },
      'tunnel closed',
    );
    tunnel.onClose(reason);
  }
}

const tlsFailures = new Set(['bad-record-mac', 'record-error', 'peer-alert']);
function isTlsFailure(k: string): k is 'bad-record-mac' | 'record-error' | 'peer-alert' {
  return tlsFailures.has(k);
}
