import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Chunk, ChunkPool } from '../tls/chunk-pool.js';
import { BurstPacer, newBurstCount } from './burst-pacer.js';
import { MmsgReceiver } from './mmsg-receiver.js';
import { type Destination, MmsgSender } from './mmsg-sender.js';

/** Why the socket itself dropped a datagram; a fixed set (part of DtlsDrop). */
export type DtlsSocketDrop = 'truncated' | 'internal';

/**
 * One received datagram, `buffer[start, end)`: valid only during the call, and the receiver
 * may change it in place (decryption). `native` is the buffer's native address, or -1 when unknown.
 */
export type DatagramReceiver = (
  buffer: Buffer,
  start: number,
  end: number,
  address: string,
  port: number,
  native: number,
) => void;

/** recvmmsg calls per readiness at most (64 datagrams each); the rest waits for the next turn of the loop. */
const BATCHES_PER_TURN = 8;

/** Default pause between two full send batches of one client's burst (burst-pacer.ts; gateway.dtls.burstPauseMicros). */
export const DEFAULT_BURST_PAUSE_MICROS = 100;

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
 * One UDP socket of the DTLS data channel (node:dgram for readiness and control messages).
 *
 * Receiving: node:dgram delivers a datagram when the socket becomes readable; right after it,
 * in the same task, everything else waiting is read with recvmmsg (mmsg-receiver.ts, up to
 * BATCHES_PER_TURN × 64 datagrams; libuv polls level-triggered, so what is left makes the socket
 * readable again on the next turn). A burst is thus handled in one task: its packets merge
 * into GSO writes to the TUN (gateway/tun/tun-gro.ts finishes merges at the end of a task) and
 * cost one syscall per 64 instead of node's per-datagram read, allocation and callback. A
 * datagram whose handling throws is dropped and counted (`onDrop`, 'internal'): the read loop
 * goes on.
 * Sealed data datagrams leave from pooled chunks, queued during one turn of the event loop and
 * sent with sendmmsg (mmsg-sender.ts) at its end, many per syscall; a burst to one client longer
 * than a batch pauses briefly after each full batch (burst-pacer.ts), so that it does not overrun
 * a slow client's receive buffer. Without koffi they go through
 * node:dgram one by one: libuv completes UDP sends in the order they were made (a send that
 * cannot go out at once is queued, and later sends queue behind it), so one callback gives back
 * the oldest chunk in flight: no closure per packet.
 */
export class UdpSocket implements DatagramSender {
  private readonly socket: Socket;
  private mmsg: MmsgSender | undefined;
  private receiver: MmsgReceiver | undefined;
  /** Datagrams the socket dropped (too large for a receive slot, or a fault handling them). */
  onDrop: ((reason: DtlsSocketDrop) => void) | undefined;
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

  private boundPort: number | undefined;

  private constructor(
    socket: Socket,
    readonly pool: ChunkPool,
    private readonly receive: DatagramReceiver,
    readonly pacer: BurstPacer,
  ) {
    this.socket = socket;
  }

  /**
   * Binds host:port (port 0: any) and delivers every datagram to `receive`. The socket buffers
   * are raised (4 MiB each way): a burst of full-size datagrams overran Linux's 208 KiB default.
   * `maxDatagram`: the largest datagram read in batches (larger ones are dropped, 'truncated').
   * `pacer`: spaces the full send batches of a burst to one client (burst-pacer.ts).
   */
  static async bind(
    host: string,
    port: number,
    pool: ChunkPool,
    receive: DatagramReceiver,
    maxDatagram = 2048,
    pacer = new BurstPacer(DEFAULT_BURST_PAUSE_MICROS),
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
    const udp = new UdpSocket(socket, pool, receive, pacer);
    socket.on('message', (datagram, from) => {
      udp.deliver(datagram, 0, datagram.length, from.address, from.port, -1);
      udp.drain();
    });
    // A send to a closed port raises ICMP errors on later calls; they concern one client only.
    socket.on('error', () => undefined);
    const fd = descriptorOf(socket);
    if (fd !== undefined) {
      udp.mmsg = MmsgSender.open(fd, isIPv6(host));
      udp.receiver = MmsgReceiver.open(fd, 64, Math.ceil(maxDatagram / 64) * 64);
    }
    return udp;
  }

  /** Whether datagrams are also read with recvmmsg (else node:dgram reads them one by one). */
  get batchedReceive(): boolean {
    return this.receiver !== undefined;
  }

  private deliver(
    buffer: Buffer,
    start: number,
    end: number,
    address: string,
    port: number,
    native: number,
  ): void {
    try {
      this.receive(buffer, start, end, address, port, native);
    } catch {
      this.onDrop?.('internal');
    }
  }

  /** Reads and delivers what else is waiting on the socket, in batches, never blocking. */
  private drain(): void {
    const r = this.receiver;
    if (!r) return;
    for (let turn = 0; turn < BATCHES_PER_TURN && this.receiver === r; turn++) {
      const n = r.receive();
      for (let i = 0; i < n; i++) {
        const d = r.datagram(i);
        if (!d.intact) {
          this.onDrop?.('truncated');
          continue;
        }
        this.deliver(r.buffer, d.offset, d.offset + d.length, d.address, d.port, r.address);
      }
      if (n < r.capacity) return;
    }
  }

  /** Whether data datagrams go out with sendmmsg (else one node:dgram send each). */
  get batched(): boolean {
    return this.mmsg !== undefined;
  }

  destination(address: string, port: number): Destination {
    return (
      this.mmsg?.destination(address, port) ?? {
        address,
        port,
        name: Buffer.alloc(0),
        nameAddress: 0,
        burst: newBurstCount(),
      }
    );
  }

  /** Asked on every CONNECT that offers DTLS; node:dgram's address() is a native call each time. */
  get port(): number {
    this.boundPort ??= this.socket.address().port;
    return this.boundPort;
  }

  get queuedBytes(): number {
    return this.socket.getSendQueueSize();
  }

  send(chunk: Chunk, length: number, to: Destination): void {
    const mmsg = this.mmsg;
    if (mmsg) {
      if (mmsg.queued === mmsg.capacity) {
        this.sendBatch();
        this.pacer.afterFullBatch(to.burst);
      }
      mmsg.queue(chunk.address, length, to);
      this.pacer.queued(to.burst);
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

  /** The end of the turn: what is queued leaves, and the pacer starts a new turn. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.sendBatch();
    this.pacer.endOfTurn();
  };

  /** Sends the queued datagrams (sendmmsg copies them into the kernel) and frees their chunks. */
  private sendBatch(): void {
    const mmsg = this.mmsg;
    if (!mmsg || this.batch.length === 0) return;
    const queued = mmsg.queued;
    const failed = queued - mmsg.flush();
    if (failed > 0) this.onSendFailures?.(failed);
    for (const chunk of this.batch) this.pool.give(chunk);
    this.batch.length = 0;
  }

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
    this.receiver = undefined;
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
export function descriptorOf(socket: Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const fd = state && (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[state]?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
