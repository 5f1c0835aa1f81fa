import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerDisconnectReason } from '../cstp/index.js';
import type { DtlsService } from '../dtls/dtls-service.js';
import type { Session } from '../session/session.js';
import { type RecordLayerSetup, recordTransport } from '../tls/tls-connection.js';
import type { PacketDevice } from '../tun/packet-device.js';
import type { TlsFailure } from '../tunnel/counters.js';
import { LocalTunnels } from '../tunnel/local-tunnels.js';
import {
  decodeDtls,
  decodeKeys,
  dropKey,
  type OpenMessage,
  parsePrimaryMessage,
  type WorkerMessage,
} from './protocol.js';

export interface TunnelWorkerOptions {
  device: PacketDevice;
  /** Outpost's record layer; its onTlsFailure is set here (failures are reported to the primary). */
  recordLayer: Omit<RecordLayerSetup, 'onTlsFailure'>;
  maxQueuedBytes: number;
  send: (message: WorkerMessage) => void;
  logger: Logger;
  /** How often counters go to the primary (it serves metrics and `sessions list` from them). */
  statsIntervalMs?: number;
  /** This worker's DTLS data channel (its own UDP port), when DTLS is on. */
  dtls?: DtlsService;
}

interface Hosted {
  session: Session;
  /** Counters as last reported, to send only tunnels that moved. */
  reported: number;
}

/**
 * A tunnel worker process's side (gateway.workers > 1): tunnels arrive from the primary as
 * taken-over connections (`open` + the TCP socket), run here over this process's TUN, and their
 * counters and ends go back. Knows nothing of authentication or cookies: the primary decides.
 */
export class TunnelWorker {
  private readonly tunnels: LocalTunnels;
  private readonly hosted = new Map<number, Hosted>();
  private readonly drops: Record<string, number> = {};
  private readonly tlsFailures: Record<string, number> = {};
  private opened = 0;
  private closing = false;
  private readonly timer: NodeJS.Timeout;
  private readonly setup: RecordLayerSetup;

  constructor(private readonly o: TunnelWorkerOptions) {
    this.setup = {
      ...o.recordLayer,
      onTlsFailure: (kind: TlsFailure) => {
        this.tlsFailures[kind] = (this.tlsFailures[kind] ?? 0) + 1;
      },
    };
    this.tunnels = new LocalTunnels(
      o.device,
      {
        // Keyed "reason" (TLS) or "reason/dtls" (protocol.ts dropKey).
        dropped: (reason, count = 1, channel = 'tls') => {
          const key = dropKey(reason, channel);
          this.drops[key] = (this.drops[key] ?? 0) + count;
        },
        tunnelOpened: (_kind, count = 1) => {
          this.opened += count;
        },
      },
      o.logger,
    );
    this.timer = setInterval(() => this.sendStats(), o.statsIntervalMs ?? 2000);
    this.timer.unref();
  }

  get size(): number {
    return this.tunnels.size;
  }

  /** A message from the primary, with the socket handle that came with it. */
  receive(raw: unknown, socket: Socket | undefined): void {
    const { message, error } = parsePrimaryMessage(raw);
    if (!message) {
      socket?.destroy();
      this.o.logger.warn({ reason: error }, 'invalid message from the gateway primary ignored');
      return;
    }
    switch (message.type) {
      case 'open':
        return this.open(message, socket);
      case 'terminate': {
        const hosted = this.hosted.get(message.tunnel);
        if (hosted) hosted.session.disconnect?.(message.reason);
        return;
      }
      case 'shutdown':
        return this.close('server shutdown');
    }
  }

  /** Ends every tunnel and stops reporting. */
  /**
   * Ends every tunnel and stops reporting. At shutdown the primary has stopped keeping sessions,
   * so the ends are not reported one by one: tens of thousands of `closed` messages would only
   * delay the exit.
   */
  close(reason: ServerDisconnectReason): void {
    this.closing = true;
    clearInterval(this.timer);
    this.tunnels.terminateAll(reason);
  }

  private open(message: OpenMessage, socket: Socket | undefined): void {
    const serial = message.tunnel;
    if (!socket) return this.reportClosed(serial, 'no connection came with the tunnel');
    let keys: ReturnType<typeof decodeKeys>;
    try {
      keys = decodeKeys(message.keys);
    } catch (e) {
      socket.destroy();
      return this.reportClosed(serial, (e as Error).message);
    }
    const session = sessionOf(message.session);
    const transport = recordTransport(
      this.setup,
      {
        socket,
        keys,
        sequences: message.sequences,
        pending: message.pending.map((b) => Buffer.from(b)),
        head: Buffer.from(message.head),
      },
      this.o.maxQueuedBytes,
    );
    this.hosted.set(serial, { session, reported: -1 });
    const closer = this.closer(serial, session);
    let forgetDtls: (() => void) | undefined;
    const tunnel = this.tunnels.open({
      transport,
      session,
      mtu: message.mtu,
      timers: message.timers,
      // One logger for all: the tunnel's own lines carry its session id, the primary logs the rest
      // (user, remote, addresses), and a child logger per idle tunnel costs memory for nothing.
      logger: this.o.logger,
      onClose: (reason) => {
        forgetDtls?.();
        closer(reason);
      },
    });
    const service = this.o.dtls;
    if (message.dtls && service && !tunnel.closed) {
      try {
        const { id, params } = decodeDtls(message.dtls);
        forgetDtls = service.register({
          id,
          params,
          dataMtu: message.mtu,
          dpd: message.timers.dpd,
          attach: (datagram) => tunnel.attachDatagram(datagram),
          fallback: transport,
        });
      } catch (e) {
        this.o.logger.warn({ session: session.id, reason: (e as Error).message }, 'no DTLS for this tunnel');
      }
    }
  }

  /** Made apart from open(), whose context holds the whole message (keys, buffers) otherwise. */
  private closer(serial: number, session: Session): (reason: string) => void {
    return (reason) => {
      this.hosted.delete(serial);
      if (!this.closing) this.reportClosed(serial, reason, session);
    };
  }

  private reportClosed(serial: number, reason: string, session?: Session): void {
    this.o.send({ type: 'closed', tunnel: serial, reason, counters: countersOf(session) });
  }

  private sendStats(): void {
    const moved: Array<[number, number, number, number, number]> = [];
    for (const [serial, hosted] of this.hosted) {
      const { session } = hosted;
      const total = session.packetsIn + session.packetsOut;
      if (total === hosted.reported) continue;
      hosted.reported = total;
      moved.push([serial, ...countersOf(session)]);
    }
    const any = (t: Record<string, number>) => Object.values(t).some((n) => n > 0);
    const dtls = this.o.dtls?.stats;
    const dtlsMoved = dtls?.moved ?? false;
    if (moved.length === 0 && !any(this.drops) && !any(this.tlsFailures) && this.opened === 0 && !dtlsMoved)
      return;
    this.o.send({
      type: 'stats',
      tunnels: moved,
      drops: takeAll(this.drops),
      tlsFailures: takeAll(this.tlsFailures),
      opened: this.opened,
      ...(dtls && dtlsMoved ? { dtls: dtls.take() } : {}),
    });
    this.opened = 0;
  }
}

/** The worker's own record of a session: what CstpTunnel reads and counts into. */
function sessionOf(s: OpenMessage['session']): Session {
  const now = Date.now();
  return {
    id: s.id,
    // The method is the primary's business; the worker only logs the name.
    identity: {
      username: s.username,
      groups: [],
      method: 'token',
      ...(s.device ? { device: s.device } : {}),
    },
    remoteAddress: s.remote,
    cookieHash: '',
    createdAt: now,
    state: 'connected',
    ipv4: s.ipv4,
    ...(s.ipv6 ? { ipv6: s.ipv6 } : {}),
    lastActivity: now,
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
  };
}

function countersOf(s: Session | undefined): [number, number, number, number] {
  return s ? [s.bytesIn, s.bytesOut, s.packetsIn, s.packetsOut] : [0, 0, 0, 0];
}

/** The tally's values, zeroing it. */
function takeAll(tally: Record<string, number>): Record<string, number> {
  const out = { ...tally };
  for (const key of Object.keys(tally)) tally[key] = 0;
  return out;
}
