import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Chunk, ChunkPool } from '../tls/chunk-pool.js';

/** Where the DTLS transport sends its sealed datagrams. */
export interface DatagramSender {
  /**
   * Sends `chunk.buffer[0, length)` to address:port; the chunk goes back to its pool once the
   * kernel has it. Never throws.
   */
  send(chunk: Chunk, length: number, address: string, port: number): void;
  /** Bytes waiting to be sent (backpressure). */
  readonly queuedBytes: number;
  readonly pool: ChunkPool;
}

/**
 * One UDP socket of the DTLS data channel (node:dgram). Sealed datagrams leave from pooled
 * chunks; libuv completes UDP sends in the order they were made (a send that cannot go out at
 * once is queued, and later sends queue behind it), so one callback gives back the oldest chunk
 * in flight: no closure per packet.
 */
export class UdpSocket implements DatagramSender {
  private readonly socket: Socket;
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
    return new UdpSocket(socket, pool);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get queuedBytes(): number {
    return this.socket.getSendQueueSize();
  }

  send(chunk: Chunk, length: number, address: string, port: number): void {
    this.inFlight.push(chunk);
    try {
      this.socket.send(chunk.buffer, 0, length, port, address, this.sent);
    } catch {
      // The socket is closed: the callback never comes, the chunk is lost to the GC.
    }
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
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
