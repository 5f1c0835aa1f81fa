import type { Logger } from 'pino';
import type { ServerDisconnectReason } from '../cstp/index.js';
import type { Session } from '../session/session.js';
import type { PacketDevice } from '../tun/packet-device.js';
import type { TunnelCounters } from './counters.js';
import { CstpTunnel, ipv4Number } from './cstp-tunnel.js';
import { routeBatch } from './outbound.js';
import type { TunnelTransport } from './transport.js';
import type { TunnelLog, TunnelTimers } from './tunnel-state.js';

export interface LocalTunnelStart {
  transport: TunnelTransport;
  session: Session;
  mtu: number;
  timers: TunnelTimers;
  logger: TunnelLog;
  /** Once, when the tunnel ends (after it left the tables). */
  onClose: (reason: string) => void;
}

/** Device faults logged with their stack per process; later ones are only counted (metrics). */
const maxFaultLogs = 10;

/**
 * The tunnels of one process and its TUN device: each packet read from the TUN goes to the
 * tunnel of its destination address (others are dropped), each tunnel writes its client's
 * packets into the TUN. Used by the gateway itself (gateway.workers: 1) and by each tunnel worker.
 */
export class LocalTunnels {
  private readonly bySession = new Map<string, CstpTunnel>();
  /** By IPv4 address as a number: the per-packet lookup of the TUN reader path. */
  private readonly byIpv4 = new Map<number, CstpTunnel>();
  /** By IPv6 address text (packetAddress's formatting, as the pools write it). */
  private readonly byIpv6 = new Map<string, CstpTunnel>();

  private faultsLogged = 0;

  /** Every tunnel's TUN writers: one pair for all, not two closures per (idle) tunnel. */
  private readonly toTun: (packet: Buffer) => boolean;
  private readonly toTunFrom:
    | ((buffer: Buffer, at: number, length: number, address: number) => boolean)
    | undefined;

  constructor(
    private readonly device: PacketDevice,
    private readonly counters: TunnelCounters,
    private readonly logger: Logger,
  ) {
    this.toTun = (packet) => device.write(packet);
    this.toTunFrom = device.writeFrom
      ? (buffer, at, length, address) => device.writeFrom!(buffer, at, length, address)
      : undefined;
    device.onPackets((batch) => routeBatch(batch, this.byIpv4, this.byIpv6));
    device.onFault?.((error, packets) => this.deviceFault(error, packets));
  }

  /**
   * A fault the device caught on its own path (no tunnel on the stack): its packets are counted
   * as dropped; the first few are logged with their stack, the rest only counted.
   */
  private deviceFault(error: unknown, packets: number): void {
    this.counters.dropped('internal', packets);
    if (this.faultsLogged >= maxFaultLogs) return;
    this.faultsLogged++;
    this.logger.error({ err: error, packets }, 'packets dropped: fault in the TUN path');
  }

  get size(): number {
    return this.bySession.size;
  }

  /** Ends the session's open tunnel, if any (a reconnect replaces it). */
  terminate(sessionId: string, reason: ServerDisconnectReason): void {
    this.bySession.get(sessionId)?.terminate(reason);
  }

  /** Ends every tunnel (shutdown). */
  terminateAll(reason: ServerDisconnectReason): void {
    for (const tunnel of [...this.bySession.values()]) tunnel.terminate(reason);
  }

  open(start: LocalTunnelStart): CstpTunnel {
    const { session } = start;
    const ipv4 = ipv4Number(session.ipv4);
    const ipv6 = session.ipv6;
    const tunnel = new CstpTunnel({
      transport: start.transport,
      session,
      mtu: start.mtu,
      timers: start.timers,
      toTun: this.toTun,
      ...(this.toTunFrom ? { toTunFrom: this.toTunFrom } : {}),
      counters: this.counters,
      logger: start.logger,
      onClose: (reason) => {
        if (this.bySession.get(session.id) === tunnel) this.bySession.delete(session.id);
        if (this.byIpv4.get(ipv4) === tunnel) this.byIpv4.delete(ipv4);
        if (ipv6 && this.byIpv6.get(ipv6) === tunnel) this.byIpv6.delete(ipv6);
        start.onClose(reason);
      },
    });
    this.bySession.set(session.id, tunnel);
    if (ipv4 >= 0) this.byIpv4.set(ipv4, tunnel);
    if (ipv6) this.byIpv6.set(ipv6, tunnel);
    this.counters.tunnelOpened?.(start.transport.kind);
    return tunnel;
  }
}
