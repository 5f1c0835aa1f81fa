/**
 * The real TunDevice. A worker thread reads the fd (non-blocking read + poll, see
 * tun-reader-worker-source.ts) into a SharedArrayBuffer ring; the main thread wakes up through
 * Atomics.waitAsync, hands the packets to the handler as one batch per run of ring slots without
 * copying, then frees the slots. Writes are copied into a second ring that a writer thread
 * drains with write(2) (tun-writer-ring.ts).
 *
 * Why not fs.read: it goes through the libuv threadpool (one packet per round trip, 40-60k/s) and a
 * read pending there keeps the process from exiting.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { koffiPath, type Libc, libc } from './libc.js';
import { openTunFd } from './open-tun-fd.js';
import { type PacketBatch, ReusablePacketBatch } from './packet-batch.js';
import { CONTROL_INTS, Control, type PacketRingLayout, ringLayout } from './packet-ring.js';
import { VNET_HEADER_LENGTH } from './tcp-coalesce.js';
import { emptyTunStats, type TunDevice, type TunStats } from './tun-device.js';
import { TunGro } from './tun-gro.js';
import { TUN_READER_WORKER_SOURCE } from './tun-reader-worker-source.js';
import { TunWriterRing } from './tun-writer-ring.js';

export interface LinuxTunOptions {
  readonly mtu: number;
  /**
   * Ring slots between the reader thread and the main thread (power of two). Default 4096 (about
   * 6 MB at MTU 1472): in the bench a 1024-slot ring dropped ~3% while draining a full kernel queue.
   */
  readonly ringSlots?: number;
  /** Most packets per onPackets call. Default 256. */
  readonly maxBatch?: number;
  /** Upper bound on how long close() waits for the reader to notice. Default 50 ms. */
  readonly pollTimeoutMs?: number;
  /** Bytes of the ring towards the writer thread (power of two). Default 8 MiB. */
  readonly writeRingBytes?: number;
  /**
   * The fd was opened with IFF_VNET_HDR: reads and writes carry a virtio-net header, and runs of
   * TCP segments are written as one GSO packet (tun-gro.ts). `open` sets it.
   */
  readonly vnetHeader?: boolean;
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
// ES2024 API, present in Node 20's V8 but not in the ES2023 lib this project compiles against.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Batches handed to the handler back to back before yielding to the event loop. */
const BATCHES_PER_TURN = 16;

export class LinuxTunDevice implements TunDevice {
  /** Opens (or creates) the TUN interface `name`; see openTunFd for the errors. */
  static open(name: string, options: LinuxTunOptions): LinuxTunDevice {
    const vnetHeader = options.vnetHeader ?? true;
    const { fd, name: actual } = openTunFd(name, { vnetHeader });
    return new LinuxTunDevice(fd, actual, { ...options, vnetHeader }, true);
  }

  /**
   * Wraps an fd that is already a packet source/sink (a TUN fd opened elsewhere, or a datagram
   * socket in tests). It must be non-blocking. `ownsFd` closes it on close().
   */
  static fromFd(fd: number, name: string, options: LinuxTunOptions & { ownsFd?: boolean }): LinuxTunDevice {
    return new LinuxTunDevice(fd, name, options, options.ownsFd ?? false);
  }

  readonly mtu: number;
  private handler: ((batch: PacketBatch) => void) | undefined;
  private readonly counters: TunStats = emptyTunStats();
  private readonly layout: PacketRingLayout;
  private readonly control: Int32Array;
  private readonly lengths: Int32Array;
  private readonly batch: ReusablePacketBatch;
  private readonly worker: Worker;
  private readonly workerExited: Promise<void>;
  private readSeq = 0;
  private closing: Promise<void> | undefined;
  private readonly writer: TunWriterRing;
  /** Bytes of virtio-net header before each packet read or written (0 or 10). */
  private readonly header: number;
  private readonly gro: TunGro | undefined;
  private readonly c: Libc;

  private constructor(
    private readonly fd: number,
    readonly name: string,
    options: LinuxTunOptions,
    private readonly ownsFd: boolean,
  ) {
    this.mtu = options.mtu;
    this.header = options.vnetHeader ? VNET_HEADER_LENGTH : 0;
    this.c = libc();
    this.layout = ringLayout(options.ringSlots ?? 4096, options.mtu + this.header);
    const sab = new SharedArrayBuffer(this.layout.byteLength);
    this.control = new Int32Array(sab, 0, CONTROL_INTS);
    this.lengths = new Int32Array(sab, this.layout.lengthsOffset, this.layout.slots);
    const data = Buffer.from(sab, this.layout.dataOffset, this.layout.slots * this.layout.slotSize);
    this.batch = new ReusablePacketBatch(
      data,
      Math.min(options.maxBatch ?? 256, this.layout.slots),
      this.c.address(data),
    );
    this.worker = new Worker(TUN_READER_WORKER_SOURCE, {
      eval: true,
      name: `tun-reader ${name}`,
      workerData: {
        koffiPath: koffiPath(),
        fd,
        sab,
        slots: this.layout.slots,
        slotSize: this.layout.slotSize,
        lengthsOffset: this.layout.lengthsOffset,
        dataOffset: this.layout.dataOffset,
        mtu: options.mtu,
        header: this.header,
        maxBurst: Math.max(1, this.layout.slots >> 2),
        pollTimeoutMs: options.pollTimeoutMs ?? 50,
      },
    });
    this.workerExited = new Promise((resolve) => {
      this.worker.once('exit', () => resolve());
      // A crash of the reader is recorded, never thrown into the event loop.
      this.worker.once('error', () => {
        if (Atomics.load(this.control, Control.FATAL_ERRNO) === 0) {
          Atomics.store(this.control, Control.FATAL_ERRNO, -1);
        }
        Atomics.notify(this.control, Control.WRITE_SEQ);
      });
    });
    this.writer = new TunWriterRing(fd, name, options.writeRingBytes ?? 8 * 1024 * 1024);
    this.gro = options.vnetHeader ? new TunGro(this.writer, this.c) : undefined;
    this.pump();
  }

  onPackets(handler: (batch: PacketBatch) => void): void {
    this.handler = handler;
  }

  write(packet: Uint8Array): boolean {
    return this.writeFrom(packet, 0, packet.length, this.c.address(packet));
  }

  writeFrom(source: Uint8Array, offset: number, length: number, address: number): boolean {
    if (this.closing || length > this.mtu || length === 0) {
      this.counters.dropsOut++;
      return false;
    }
    const queued = this.gro
      ? this.gro.write(source, offset, length, address)
      : this.writer.enqueueFrom(address + offset, length);
    if (!queued) {
      this.counters.dropsOut++;
      return false;
    }
    this.counters.packetsOut++;
    this.counters.bytesOut += length;
    return true;
  }

  /** TCP segments written as part of merged GSO packets, and those packets (tun-gro.ts). */
  mergeStats(): { segments: number; packets: number } {
    return { segments: this.gro?.merged ?? 0, packets: this.gro?.mergedPackets ?? 0 };
  }

  writeBatch(packets: readonly Uint8Array[]): void {
    for (const packet of packets) this.write(packet);
  }

  stats(): TunStats {
    return {
      ...this.counters,
      dropsOut: this.counters.dropsOut + this.writer.failedWrites(),
      dropsIn: this.counters.dropsIn + Atomics.load(this.control, Control.DROPPED_FULL),
      errorsIn: this.counters.errorsIn + Atomics.load(this.control, Control.READ_ERRORS),
    };
  }

  /** errno that stopped the reader thread (-1: it crashed), 0 while it runs or after a normal close. */
  readerFailure(): number {
    return Atomics.load(this.control, Control.FATAL_ERRNO);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.handler = undefined;
    Atomics.store(this.control, Control.STOP, 1);
    // Wakes our own pending waitAsync so nothing stays pending after close.
    Atomics.notify(this.control, Control.WRITE_SEQ);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await Promise.all([this.workerExited, this.writer.close()]);
    clearTimeout(timer);
    if (this.ownsFd) fs.closeSync(this.fd);
  }

  /** Drains the ring into batches, then sleeps until the reader publishes more. */
  private readonly pump = (): void => {
    if (this.closing) return;
    const { slots, slotSize } = this.layout;
    const mask = slots - 1;
    const batch = this.batch;
    for (let turn = 0; turn < BATCHES_PER_TURN; turn++) {
      const writeSeq = Atomics.load(this.control, Control.WRITE_SEQ);
      const available = (writeSeq - this.readSeq) | 0;
      if (available === 0) {
        this.sleepUntilChanged(writeSeq);
        return;
      }
      const count = Math.min(available, batch.maxCount);
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const slot = (this.readSeq + i) & mask;
        const length = this.lengths[slot]! - this.header;
        batch.offsets[i] = slot * slotSize + this.header;
        batch.lengths[i] = length;
        bytes += length;
      }
      batch.count = count;
      this.counters.packetsIn += count;
      this.counters.bytesIn += bytes;
      const handler = this.handler;
      if (handler) {
        try {
          handler(batch);
        } catch {
          this.counters.handlerErrors++;
        }
      } else {
        this.counters.dropsIn += count;
      }
      batch.count = 0;
      this.readSeq = (this.readSeq + count) | 0;
      Atomics.store(this.control, Control.READ_SEQ, this.readSeq);
      if (this.closing) return;
    }
    // Still more to do: let timers and sockets run first.
    setImmediate(this.pump);
  };

  private sleepUntilChanged(seenWriteSeq: number): void {
    if (Atomics.load(this.control, Control.FATAL_ERRNO) !== 0) return;
    const wait = waitAsync(this.control, Control.WRITE_SEQ, seenWriteSeq);
    if (wait.async) void wait.value.then(this.pump);
    else setImmediate(this.pump);
  }
}
