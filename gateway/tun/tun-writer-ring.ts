import { Worker } from 'node:worker_threads';
import { koffiPath, type Libc, libc } from './libc.js';
import { CONTROL_INTS, ringLayout } from './packet-ring.js';
import { TUN_WRITER_WORKER_SOURCE } from './tun-writer-worker-source.js';

const WRITE_SEQ = 0;
const READ_SEQ = 1;
const STOP = 2;
const WRITE_ERRORS = 3;
const SLEEPING = 4;

/**
 * Packets for the TUN go through a single-producer/single-consumer ring to a writer thread (see
 * tun-writer-worker-source.ts). `enqueue` copies the packet into the next slot and is false when
 * the ring is full: the caller drops and counts, it never blocks or buffers without bound.
 */
export class TunWriterRing {
  private readonly control: Int32Array;
  private readonly lengths: Int32Array;
  private readonly data: Buffer;
  private readonly dataAddress: number;
  private readonly c: Libc;
  private readonly slots: number;
  private readonly slotSize: number;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private writeSeq = 0;

  constructor(fd: number, name: string, slots: number, mtu: number) {
    const layout = ringLayout(slots, mtu);
    const sab = new SharedArrayBuffer(layout.byteLength);
    this.control = new Int32Array(sab, 0, CONTROL_INTS);
    this.lengths = new Int32Array(sab, layout.lengthsOffset, layout.slots);
    this.data = Buffer.from(sab, layout.dataOffset, layout.slots * layout.slotSize);
    this.c = libc();
    this.dataAddress = this.c.address(this.data);
    this.slots = layout.slots;
    this.slotSize = layout.slotSize;
    this.worker = new Worker(TUN_WRITER_WORKER_SOURCE, {
      eval: true,
      name: `tun-writer ${name}`,
      workerData: {
        koffiPath: koffiPath(),
        fd,
        sab,
        slots: layout.slots,
        slotSize: layout.slotSize,
        lengthsOffset: layout.lengthsOffset,
        dataOffset: layout.dataOffset,
        waitTimeoutMs: 50,
      },
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.once('error', () => Atomics.add(this.control, WRITE_ERRORS, 1));
    });
  }

  enqueue(packet: Uint8Array): boolean {
    return this.enqueueFrom(this.c.address(packet), packet.length);
  }

  /** Copies `length` bytes from `address` into the next slot (memcpy: see libc.ts). */
  enqueueFrom(address: number, length: number): boolean {
    if (length > this.slotSize) return false;
    const inFlight = (this.writeSeq - Atomics.load(this.control, READ_SEQ)) | 0;
    if (inFlight >= this.slots) return false;
    const slot = this.writeSeq & (this.slots - 1);
    this.c.memcpy(this.dataAddress + slot * this.slotSize, address, length);
    this.lengths[slot] = length;
    this.writeSeq = (this.writeSeq + 1) | 0;
    Atomics.store(this.control, WRITE_SEQ, this.writeSeq);
    if (Atomics.load(this.control, SLEEPING) === 1) Atomics.notify(this.control, WRITE_SEQ);
    return true;
  }

  /** Writes the kernel refused (or a crashed writer). */
  failedWrites(): number {
    return Atomics.load(this.control, WRITE_ERRORS);
  }

  async close(): Promise<void> {
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, WRITE_SEQ);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
