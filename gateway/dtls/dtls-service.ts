import type { Logger } from 'pino';
import { ChunkPool } from '../tls/chunk-pool.js';
import type { Evp } from '../tls/evp.js';
import type { TunnelTransport } from '../tunnel/transport.js';
import { BurstPacer, pauseThread } from './burst-pacer.js';
import type { DtlsChannel } from './dtls-channel.js';
import { DtlsEndpoint, type DtlsPeerSession } from './dtls-endpoint.js';
import { DtlsStats } from './dtls-stats.js';
import { DtlsTransport } from './dtls-transport.js';
import type { DtlsSessionParams } from './server-handshake.js';
import { DEFAULT_BURST_PAUSE_MICROS, UdpSocket } from './udp-socket.js';

export interface DtlsServiceOptions {
  evp: Evp;
  /** Where the UDP socket listens (port 0: any; see `port`). */
  host: string;
  port: number;
  /** The TUN MTU: the largest packet a datagram chunk must hold. */
  maxPacket: number;
  logger: Logger;
  stats?: DtlsStats;
  /** Sealed bytes queued in the socket beyond which packets are dropped. */
  maxQueuedBytes?: number;
  /** Pause after each full send batch of a burst to one client (burst-pacer.ts); 0: none. Default 100. */
  burstPauseMicros?: number;
}

/** What a tunnel registers for its session's DTLS channel. */
export interface DtlsRegistration {
  /** X-DTLS-App-ID (PSK) or X-DTLS-Session-ID (legacy): how the ClientHello names the session. */
  id: Buffer;
  params: DtlsSessionParams;
  /** The data MTU given in the CONNECT answer. */
  dataMtu: number;
  /** Seconds (the session's DPD timer). */
  dpd: number;
  /** Called with the transport of each channel established for the session. */
  attach(transport: TunnelTransport): void;
  /** The tunnel's TLS transport: oversized packets go there. */
  fallback: TunnelTransport;
}

/**
 * The DTLS data channel of one process (the gateway's own, or one tunnel worker's): a UDP
 * socket, the DTLS endpoint on it, and the sessions whose tunnels run in this process, by the ID
 * their ClientHello carries. Datagrams are handled where the session's keys and tunnel are: no
 * hop through another process per packet.
 */
export class DtlsService {
  readonly stats: DtlsStats;
  private readonly endpoint: DtlsEndpoint;
  private readonly sessions = new Map<string, DtlsRegistration & DtlsPeerSession>();
  private socket!: UdpSocket;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly o: DtlsServiceOptions) {
    this.stats = o.stats ?? new DtlsStats();
    const stats = this.stats;
    this.endpoint = new DtlsEndpoint({
      evp: o.evp,
      lookup: (id) => this.sessions.get(id.toString('hex')),
      send: (datagram, length, address, port) => this.socket.sendBytes(datagram, length, address, port),
      onDrop: (reason) => stats.drops[reason]++,
      onEvent: (event) => stats.events[event]++,
    });
  }

  static async start(o: DtlsServiceOptions): Promise<DtlsService> {
    const service = new DtlsService(o);
    const pool = new ChunkPool(o.evp, o.maxPacket + 128, 1024);
    service.socket = await UdpSocket.bind(
      o.host,
      o.port,
      pool,
      (buffer, start, end, address, port, native) =>
        service.receive(buffer, start, end, address, port, native),
      // A record of a full-size packet, and the client's padded MTU probes up to a 1500-byte link.
      Math.max(2048, o.maxPacket + 128),
      new BurstPacer(o.burstPauseMicros ?? DEFAULT_BURST_PAUSE_MICROS, 64, 32, (ms) => {
        service.stats.burstPauses++;
        pauseThread(ms);
      }),
    );
    service.socket.onSendFailures = (n) => {
      service.stats.sendFailed += n;
    };
    service.socket.onDrop = (reason) => {
      service.stats.drops[reason]++;
    };
    return service;
  }

  /** The UDP port clients are told (X-DTLS-Port). */
  get port(): number {
    return this.socket.port;
  }

  /** Sessions registered (tunnels with a DTLS channel offered). */
  get size(): number {
    return this.sessions.size;
  }

  /** Makes the session reachable by its ID; returns the function that forgets it. */
  register(registration: DtlsRegistration): () => void {
    const key = registration.id.toString('hex');
    let current: DtlsChannel | undefined;
    const peer: DtlsRegistration & DtlsPeerSession = {
      ...registration,
      established: (channel) => {
        if (this.sessions.get(key) !== peer) return channel.close('session gone', true);
        // The client's new handshake (a new port after a fallback, or a rekey) replaces the old.
        if (current && current !== channel) current.close('replaced by a new handshake', true);
        current = channel;
        this.o.logger.debug(
          { remote: `${channel.address}:${channel.port}`, dtls: channel.protocol },
          'DTLS channel up',
        );
        registration.attach(
          new DtlsTransport({
            evp: this.o.evp,
            channel,
            socket: this.socket,
            fallback: registration.fallback,
            dataMtu: registration.dataMtu,
            dpd: registration.dpd,
            maxQueuedBytes: this.o.maxQueuedBytes ?? 4 * 1024 * 1024,
            stats: this.stats,
          }),
        );
      },
    };
    this.sessions.set(key, peer);
    return () => {
      if (this.sessions.get(key) !== peer) return;
      this.sessions.delete(key);
      this.endpoint.cancel(peer);
      current?.close('session gone', true);
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.endpoint.close();
    this.sessions.clear();
    await this.socket.close();
  }

  private receive(
    buffer: Buffer,
    start: number,
    end: number,
    address: string,
    port: number,
    native: number,
  ): void {
    this.endpoint.receive(buffer, address, port, Date.now(), native, start, end);
    // Handshakes retransmit on timers; the timer runs only while one is in progress.
    if (this.endpoint.handshakes > 0 && !this.timer) {
      this.timer = setInterval(() => {
        this.endpoint.tick(Date.now());
        if (this.endpoint.handshakes === 0 && this.timer) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      }, 250);
      this.timer.unref();
    }
  }
}
