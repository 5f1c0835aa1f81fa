/**
 * The real PacketDevice. A worker thread reads the fd (non-blocking read + poll, see
 * tun-reader-worker-source.ts) into a SharedArrayBuffer byte ring; the main thread wakes up
 * through Atomics.waitAsync, hands the packets to the handler as batches without copying, then
 * frees the entries. Writes are copied into a second ring that a writer thread drains with
 * write(2) (tun-writer-ring.ts).
 *
 * Opened by name, the TUN gets IFF_VNET_HDR and the kernel's offloads (TUNSETOFFLOAD checksum +
 * TSO): a burst the kernel sends into the TUN arrives as one GSO packet (one read instead of one
 * per segment; tcp-segment.ts cuts it), and runs of client segments go into it as one GSO packet
 * (tun-gro.ts).
 *
 * Why not fs.read: it goes through the libuv threadpool (one packet per round trip, 40-60k/s) and a
 * read pending there keeps the process from exiting.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { koffiPath, type Libc, libc, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUNSETOFFLOAD } from './libc.js';
import { openTunFd } from './open-tun-fd.js';
import { type PacketBatch, ReusablePacketBatch } from './packet-batch.js';
import { emptyTunStats, type PacketDevice, type TunFaultHandler, type TunStats } from './packet-device.js';
import {
  align8,
  CONTROL_INTS,
  Control,
  checkCapacity,
  DATA_OFFSET,
  ENTRY_HEADER,
  WRAP,
} from './packet-ring.js';
import { VNET_HEADER_LENGTH } from './tcp-coalesce.js';
import {
  completeChecksum,
  readVnetHeader,
  type SourceSum,
  segmentTcp,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
  type VnetHeader,
} from './tcp-segment.js';
import { TunGro } from './tun-gro.js';
import { TUN_READER_WORKER_SOURCE } from './tun-reader-worker-source.js';
import { TunWriterRing } from './tun-writer-ring.js';
import { checksumMemory } from './wasm-checksum.js';

export interface LinuxTunOptions {
  readonly mtu: number;
  /**
   * Bytes of the ring between the reader thread and the main thread (power of two). Default
   * 8 MiB (about 5,500 packets at MTU 1472): in the bench a ring of 1024 packets dropped ~3% while
   * draining a full kernel queue.
   */
  readonly readRingBytes?: number;
  /** The read ring sized in MTU-sized packets instead (rounded up to a power of two in bytes). */
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
  /**
   * With vnetHeader: ask the kernel for checksum offload and TSO (TUNSETOFFLOAD), so that reads
   * may be GSO packets or carry partial checksums, both completed here. `open` sets it.
   */
  readonly offload?: boolean;
}

/** Most segments one GSO read may hold (64 KiB of payload at a 1024-byte segment size). */
const MAX_SEGMENTS = 64;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
// ES2024 API, present in Node 20's V8 but not in the ES2023 lib this project compiles against.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Batches handed to the handler back to back before yielding to the event loop. */
const BATCHES_PER_TURN = 16;

export class LinuxTunDevice implements PacketDevice {
  /** Opens (or creates) the TUN interface `name`; see openTunFd for the errors. */
  static open(name: string, options: LinuxTunOptions): LinuxTunDevice {
    const vnetHeader = options.vnetHeader ?? true;
    const offload = vnetHeader && (options.offload ?? true);
    const { fd, name: actual } = openTunFd(name, { vnetHeader });
    if (offload) {
      const c = libc();
      if (c.ioctlValue(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
        const errno = c.errno();
        fs.closeSync(fd);
        throw new Error(`ioctl(TUNSETOFFLOAD) on ${actual} failed: errno ${errno}`);
      }
    }
    return new LinuxTunDevice(fd, actual, { ...options, vnetHeader, offload }, true);
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
  private faultHandler: TunFaultHandler | undefined;
  private readonly counters: TunStats = emptyTunStats();
  private readonly control: Int32Array;
  private readonly words: Int32Array;
  private readonly capacity: number;
  private readonly view: DataView;
  private readonly batch: ReusablePacketBatch;
  /** Segments of one GSO read, handed over as a batch of their own. */
  private readonly segments: ReusablePacketBatch;
  private readonly segmentView: DataView;
  private readonly segmentWords: Uint32Array;
  private readonly segmentRoom: number;
  private readonly vnet: VnetHeader = {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
  };
  private readonly worker: Worker;
  private readonly workerExited: Promise<void>;
  private readPos = 0;
  private closing: Promise<void> | undefined;
  private readonly writer: TunWriterRing;
  /** Bytes of virtio-net header before each packet read or written (0 or 10). */
  private readonly header: number;
  private readonly gro: TunGro | undefined;
  private readonly c: Libc;
  /** Checksums summed where the packets lie in the ring (wasm-checksum.ts), where wasm allows. */
  private readonly ringSum: SourceSum | undefined;

  private constructor(
    private readonly fd: number,
    readonly name: string,
    options: LinuxTunOptions,
    private readonly ownsFd: boolean,
  ) {
    this.mtu = options.mtu;
    this.header = options.vnetHeader ? VNET_HEADER_LENGTH : 0;
    this.c = libc();
    // One byte over the largest packet: a read that fills the buffer was truncated.
    const maxRead = (options.offload ? 65535 : options.mtu) + this.header + 1;
    this.capacity =
      options.readRingBytes ??
      (options.ringSlots
        ? 2 ** Math.ceil(Math.log2(options.ringSlots * (ENTRY_HEADER + align8(options.mtu + this.header))))
        : 8 * 1024 * 1024);
    checkCapacity(this.capacity, maxRead);
    // The ring in WebAssembly memory: segment checksums are then summed in place, in SIMD.
    const wasm = this.header > 0 ? checksumMemory(DATA_OFFSET + this.capacity) : undefined;
    const sab = wasm?.buffer ?? new SharedArrayBuffer(DATA_OFFSET + this.capacity);
    this.ringSum = wasm && { sum: wasm.sum, base: DATA_OFFSET };
    this.control = new Int32Array(sab, 0, CONTROL_INTS);
    this.words = new Int32Array(sab, DATA_OFFSET, this.capacity / 4);
    const data = Buffer.from(sab, DATA_OFFSET, this.capacity);
    this.view = new DataView(sab, DATA_OFFSET, this.capacity);
    this.batch = new ReusablePacketBatch(data, options.maxBatch ?? 256, this.c.address(data));
    this.segmentRoom = align8(options.mtu);
    const segmentBuffer = Buffer.allocUnsafeSlow(MAX_SEGMENTS * this.segmentRoom);
    this.segments = new ReusablePacketBatch(segmentBuffer, MAX_SEGMENTS, this.c.address(segmentBuffer));
    this.segmentView = new DataView(segmentBuffer.buffer, segmentBuffer.byteOffset, segmentBuffer.byteLength);
    // allocUnsafeSlow: memory of its own from offset 0, so the words are aligned with the bytes.
    this.segmentWords = new Uint32Array(
      segmentBuffer.buffer,
      segmentBuffer.byteOffset,
      segmentBuffer.byteLength >> 2,
    );
    this.worker = new Worker(TUN_READER_WORKER_SOURCE, {
      eval: true,
      name: `tun-reader ${name}`,
      workerData: {
        koffiPath: koffiPath(),
        fd,
        sab,
        dataOffset: DATA_OFFSET,
        capacity: this.capacity,
        maxRead,
        minRead: this.header,
        maxBurst: 1024,
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
        Atomics.notify(this.control, Control.WRITE_POS);
      });
    });
    this.writer = new TunWriterRing(fd, name, options.writeRingBytes ?? 8 * 1024 * 1024);
    this.gro = options.vnetHeader
      ? new TunGro(this.writer, this.c, (e) => {
          this.counters.faults++;
          this.faultHandler?.(e, 1);
        })
      : undefined;
    this.pump();
  }

  onPackets(handler: (batch: PacketBatch) => void): void {
    this.handler = handler;
  }

  onFault(handler: TunFaultHandler): void {
    this.faultHandler = handler;
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
    Atomics.notify(this.control, Control.WRITE_POS);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await Promise.all([this.workerExited, this.writer.close()]);
    clearTimeout(timer);
    if (this.ownsFd) fs.closeSync(this.fd);
  }

  /** Drains the ring into batches, then sleeps until the reader publishes more. */
  private readonly pump = (): void => {
    if (this.closing) return;
    for (let turn = 0; turn < BATCHES_PER_TURN; turn++) {
      const writePos = Atomics.load(this.control, Control.WRITE_POS);
      if (writePos === this.readPos) {
        this.sleepUntilChanged(writePos);
        return;
      }
      this.readPos = this.drain(this.readPos, writePos);
      Atomics.store(this.control, Control.READ_POS, this.readPos);
      if (this.closing) return;
    }
    // Still more to do: let timers and sockets run first.
    setImmediate(this.pump);
  };

  /**
   * Hands the entries from `from` on (at most one batch, stopping before `to`) to the handler;
   * returns the position after the last entry consumed. Ordinary packets go out in place; a GSO
   * read ends the batch and goes out as its own batch of segments.
   */
  private drain(from: number, to: number): number {
    const batch = this.batch;
    const mask = this.capacity - 1;
    let pos = from;
    let count = 0;
    while (pos !== to && count < batch.maxCount) {
      const offset = pos & mask;
      const length = this.words[offset >> 2]!;
      if (length === WRAP) {
        pos = (pos + (this.capacity - offset)) | 0;
        continue;
      }
      const at = offset + ENTRY_HEADER;
      const next = (pos + ENTRY_HEADER + align8(length)) | 0;
      if (this.header > 0) {
        const vnet = readVnetHeader(this.view, at, this.vnet);
        const packet = at + this.header;
        const size = length - this.header;
        if (vnet.gsoType !== VNET_GSO_NONE) {
          this.deliver(batch, count);
          count = 0;
          this.deliverSegments(packet, size);
          pos = next;
          break;
        }
        if (
          (vnet.flags & VNET_F_NEEDS_CSUM) !== 0 &&
          !completeChecksum(this.view, packet, size, vnet, this.ringSum)
        ) {
          this.counters.errorsIn++;
          pos = next;
          continue;
        }
        batch.offsets[count] = packet;
        batch.lengths[count] = size;
      } else {
        batch.offsets[count] = at;
        batch.lengths[count] = length;
      }
      count++;
      pos = next;
    }
    this.deliver(batch, count);
    return pos;
  }

  /** A GSO read, cut into segments MAX_SEGMENTS at a time (a small segment size makes many). */
  private deliverSegments(at: number, length: number): void {
    const segments = this.segments;
    const sink = {
      out: this.segmentView,
      outAddress: segments.address!,
      outBytes: segments.data,
      outWords: this.segmentWords,
      offsets: segments.offsets,
      lengths: segments.lengths,
    };
    for (let first = 0; ; ) {
      const count = segmentTcp(
        this.view,
        this.batch.address!,
        at,
        length,
        this.vnet,
        sink,
        0,
        this.segmentRoom,
        first,
        MAX_SEGMENTS,
        this.c.memcpy,
        this.ringSum,
      );
      if (count < 0) {
        if (first === 0) this.counters.errorsIn++;
        return;
      }
      this.deliver(segments, count);
      first += count;
    }
  }

  private deliver(batch: ReusablePacketBatch, count: number): void {
    if (count === 0) return;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += batch.lengths[i]!;
    batch.count = count;
    this.counters.packetsIn += count;
    this.counters.bytesIn += bytes;
    const handler = this.handler;
    if (handler) {
      try {
        handler(batch);
      } catch (e) {
        this.counters.handlerErrors++;
        this.faultHandler?.(e, count);
      }
    } else {
      this.counters.dropsIn += count;
    }
    batch.count = 0;
  }

  private sleepUntilChanged(seenWritePos: number): void {
    if (Atomics.load(this.control, Control.FATAL_ERRNO) !== 0) return;
    const wait = waitAsync(this.control, Control.WRITE_POS, seenWritePos);
    if (wait.async) void wait.value.then(this.pump);
    else setImmediate(this.pump);
  }
}
