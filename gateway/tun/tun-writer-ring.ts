import { Worker } from 'node:worker_threads';
import { koffiPath, type Libc, libc } from './libc.js';
import { align8, CONTROL_INTS, checkCapacity, DATA_OFFSET, ENTRY_HEADER, WRAP } from './packet-ring.js';
import { TUN_WRITER_WORKER_SOURCE } from './tun-writer-worker-source.js';

const WRITE_POS = 0;
const READ_POS = 1;
const STOP = 2;
const WRITE_ERRORS = 3;
const SLEEPING = 4;
/**
 * Bytes published without a wake-up before the writer is woken at once rather than at the end of
 * the event loop's turn: a long turn (many sockets readable) must not fill the ring unwritten.
 */
const WAKE_NOW_BYTES = 512 * 1024;

/** A contiguous region of the ring handed out by `reserve`, to be filled and then committed. */
export interface Reservation {
  /** Offset of the first writable byte in `data`. */
  readonly offset: number;
  readonly address: number;
}

/**
 * Packets for the TUN go through a single-producer/single-consumer byte ring (packet-ring.ts) to a
 * writer thread (see tun-writer-worker-source.ts), merged GSO packets of up to 64 KiB and
 * ordinary packets alike. Copies
 * into the ring go through memcpy (see libc.ts). A full ring makes `reserve` fail: the caller
 * drops and counts, it never blocks or buffers without bound.
 */
export class TunWriterRing {
  private readonly control: Int32Array;
  private readonly words: Int32Array;
  readonly data: Buffer;
  private readonly dataAddress: number;
  private readonly c: Libc;
  private readonly mask: number;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private writePos: number;
  /**
   * Start (ring position) of the open reservation's entry, or undefined. Not a sentinel such as
   * -1: positions are free-running int32 counters and go negative after 2 GiB (packet-ring.ts),
   * which once made a reservation look closed and the commit throw under a 4-stream upload.
   */
  private reserved: number | undefined;
  private wakeScheduled = false;
  /** Bytes committed since the writer was last woken. */
  private unwoken = 0;

  constructor(
    fd: number,
    name: string,
    readonly capacity: number,
    /** Where the free-running positions start (tests start near the int32 wrap). */
    startPosition = 0,
  ) {
    checkCapacity(capacity, 65546);
    const dataOffset = DATA_OFFSET;
    const sab = new SharedArrayBuffer(dataOffset + capacity);
    this.control = new Int32Array(sab, 0, CONTROL_INTS);
    this.words = new Int32Array(sab, dataOffset, capacity / 4);
    this.data = Buffer.from(sab, dataOffset, capacity);
    this.c = libc();
    this.dataAddress = this.c.address(this.data);
    this.mask = capacity - 1;
    this.writePos = startPosition | 0;
    Atomics.store(this.control, WRITE_POS, this.writePos);
    Atomics.store(this.control, READ_POS, this.writePos);
    this.worker = new Worker(TUN_WRITER_WORKER_SOURCE, {
      eval: true,
      name: `tun-writer ${name}`,
      workerData: { koffiPath: koffiPath(), fd, sab, dataOffset, capacity, waitTimeoutMs: 50 },
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.once('error', () => Atomics.add(this.control, WRITE_ERRORS, 1));
    });
  }

  /** Copies `length` bytes from `address` into one entry, after `prefix` bytes of zeros. */
  enqueueFrom(address: number, length: number, prefix = 0): boolean {
    const r = this.reserve(prefix + length);
    if (!r) return false;
    if (prefix > 0) this.data.fill(0, r.offset, r.offset + prefix);
    this.c.memcpy(r.address + prefix, address, length);
    this.commit(prefix + length);
    return true;
  }

  /**
   * Contiguous room for an entry of up to `maxLength` bytes, or undefined when the ring is full.
   * Nothing else may be queued until `commit`.
   */
  reserve(maxLength: number): Reservation | undefined {
    if (this.reserved !== undefined) throw new Error('a reservation is already open');
    const need = ENTRY_HEADER + align8(maxLength);
    const used = (this.writePos - Atomics.load(this.control, READ_POS)) | 0;
    let start = this.writePos;
    const tail = this.capacity - (start & this.mask);
    if (need > tail) {
      // Not enough room before the end: a wrap marker fills the tail, the entry starts at 0.
      if (used + tail + need > this.capacity) return undefined;
      this.words[(start & this.mask) >> 2] = WRAP;
      start = (start + tail) | 0;
    } else if (used + need > this.capacity) return undefined;
    this.reserved = start;
    const offset = (start & this.mask) + ENTRY_HEADER;
    return { offset, address: this.dataAddress + offset };
  }

  /** Publishes the reserved entry with its final length. */
  commit(length: number): void {
    const start = this.reserved;
    if (start === undefined) throw new Error('no open reservation');
    this.reserved = undefined;
    this.words[(start & this.mask) >> 2] = length;
    this.writePos = (start + ENTRY_HEADER + align8(length)) | 0;
    Atomics.store(this.control, WRITE_POS, this.writePos);
    // Waking the writer is a futex syscall plus a context switch on each side (10% of the main
    // thread when done per entry). Once per turn of the event loop (setImmediate), not per task:
    // the socket reads of one turn (64 KiB each) then go to the writer together. Paired bench runs
    // (4-test bench:tunnel, 3 ABAB pairs): 0.337 -> 0.317 CPU-s per Gbit against once per task.
    this.unwoken += length;
    if (this.unwoken >= WAKE_NOW_BYTES) this.wake();
    else if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wakeLater);
    }
  }

  private wake(): void {
    this.unwoken = 0;
    if (Atomics.load(this.control, SLEEPING) === 1) Atomics.notify(this.control, WRITE_POS);
  }

  private readonly wakeLater = (): void => {
    this.wakeScheduled = false;
    if (this.unwoken > 0) this.wake();
  };

  /** Abandons the open reservation (nothing is published). */
  cancel(): void {
    this.reserved = undefined;
  }

  /** Writes the kernel refused (or a crashed writer). */
  failedWrites(): number {
    return Atomics.load(this.control, WRITE_ERRORS);
  }

  async close(): Promise<void> {
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, WRITE_POS);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
