import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Chunk, ChunkPool } from '../tls/chunk-pool.js';
import { type Destination, MmsgSender } from './mmsg-sender.js';

/** Where the DTLS transport sends its sealed datagrams. */
export interface DatagramSender {
  /** The peer address:port in the form `send` takes (made once per channel). */
  destination(address: string, port: number): Destination;
  /**
   * Sends `chunk.buffer[0, length)` to `to`; the chunk goes back to its pool once the kernel
   * has it. Never throws.
   */
  send(chunk: Chunk, length: number, to: Destination): void;
  /** Bytes waiting to be sent (backpressure). */
  readonly queuedBytes: number;
  readonly pool: ChunkPool;
}

/**
 * One UDP socket of the DTLS data channel (node:dgram for receiving and control messages).
 * Sealed data datagrams leave from pooled chunks, queued during one turn of the event loop and
 * sent with sendmmsg (mmsg-sender.ts) at its end, many per syscall. Without koffi they go through
 * node:dgram one by one: libuv completes UDP sends in the order they were made (a send that
 * cannot go out at once is queued, and later sends queue behind it), so one callback gives back
 * the oldest chunk in flight: no closure per packet.
 */
export class UdpSocket implements DatagramSender {
  private readonly socket: Socket;
  private mmsg: MmsgSender | undefined;
  private batch: Chunk[] = [];
  private flushScheduled = false;
  /** Called with the number of datagrams the kernel refused (its send buffer full): lost like on a full link. */
  onSendFailures: ((count: number) => void) | undefined;
  private inFlight: Chunk[] = [];
  private head = 0;
  private readonly sent = (): void => {
    const chunk = this.inFlight[this.head++];
    if (chunk) this.pool.give(chunk);
    if (this.head > 1024 && this.head * 2 > this.inFlight.length) {
      this.inFlight = this.inFlight.slice(this.head);
      this.head = 0;
    }
  };

  private constructor(
    socket: Socket,
    readonly pool: ChunkPool,
  ) {
    this.socket = socket;
  }

  /**
   * Binds host:port (port 0: any) and delivers every datagram to `receive`. The socket buffers
   * are raised (4 MiB each way): a burst of full-size datagrams overran Linux's 208 KiB default.
   */
  static async bind(
    host: string,
    port: number,
    pool: ChunkPool,
    receive: (datagram: Buffer, address: string, port: number) => void,
  ): Promise<UdpSocket> {
    const socket = createSocket({
      type: isIPv6(host) ? 'udp6' : 'udp4',
      recvBufferSize: 1 << 22,
      sendBufferSize: 1 << 22,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', (datagram, from) => receive(datagram, from.address, from.port));
    // A send to a closed port raises ICMP errors on later calls; they concern one client only.
    socket.on('error', () => undefined);
    const udp = new UdpSocket(socket, pool);
    const fd = descriptorOf(socket);
    if (fd !== undefined) udp.mmsg = MmsgSender.open(fd, isIPv6(host));
    return udp;
  }

  /** Whether data datagrams go out with sendmmsg (else one node:dgram send each). */
  get batched(): boolean {
    return this.mmsg !== undefined;
  }

  destination(address: string, port: number): Destination {
    return this.mmsg?.destination(address, port) ?? { address, port, name: Buffer.alloc(0), nameAddress: 0 };
  }

  get port(): number {
    return this.socket.address().port;
  }

  get queuedBytes(): number {
    return this.socket.getSendQueueSize();
  }

  send(chunk: Chunk, length: number, to: Destination): void {
    const mmsg = this.mmsg;
    if (mmsg) {
      if (mmsg.queued === mmsg.capacity) this.flush();
      mmsg.queue(chunk.address, length, to);
      this.batch.push(chunk);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flush);
      }
      return;
    }
    this.inFlight.push(chunk);
    try {
      this.socket.send(chunk.buffer, 0, length, to.port, to.address, this.sent);
    } catch {
      // The socket is closed: the callback never comes, the chunk is lost to the GC.
    }
  }

  /** Sends the queued datagrams (sendmmsg copies them into the kernel) and frees their chunks. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const mmsg = this.mmsg;
    if (!mmsg || this.batch.length === 0) return;
    const queued = mmsg.queued;
    const failed = queued - mmsg.flush();
    if (failed > 0) this.onSendFailures?.(failed);
    for (const chunk of this.batch) this.pool.give(chunk);
    this.batch.length = 0;
  };

  /** Sends bytes that are not in a pooled chunk (handshake flights, alerts). */
  sendBytes(datagram: Buffer, length: number, address: string, port: number): void {
    try {
      this.socket.send(datagram, 0, length, port, address);
    } catch {
      // closed
    }
  }

  close(): Promise<void> {
    this.flush();
    this.mmsg = undefined;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/**
 * The descriptor under a dgram socket (libuv's handle keeps it; Node does not publish it), for
 * sendmmsg. Undefined where it cannot be found: then node:dgram sends.
 */
function descriptorOf(socket: Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const fd = state && (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[state]?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
