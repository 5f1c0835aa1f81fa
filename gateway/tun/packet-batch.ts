/**
 * Packets read from a TUN device, handed over in batches without a per-packet allocation: one
 * shared buffer plus each packet's offset and length. A batch and the bytes it points at are valid
 * only during the callback that receives it; the buffer is reused (or refilled by the reader thread)
 * right after. Copy a packet (`Buffer.from(batch.packet(i))`) to keep it.
 */
export interface PacketBatch {
  readonly count: number;
  /** Backing store of every packet in the batch (may be much larger than the packets). */
  readonly data: Buffer;
  /** `offsets[i]` and `lengths[i]` for i < count locate packet i in `data`; entries beyond count are junk. */
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  /** Address of `data`'s first byte when it is native memory (see PacketDevice.writeFrom), else undefined. */
  readonly address?: number;
  /** A view (no copy) of packet i; allocates a small Buffer object, so prefer offsets on hot paths. */
  packet(index: number): Buffer;
}

/** The one PacketBatch implementation: preallocated arrays refilled for every batch. */
export class ReusablePacketBatch implements PacketBatch {
  count = 0;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;

  constructor(
    public data: Buffer,
    readonly maxCount: number,
    readonly address?: number,
  ) {
    this.offsets = new Int32Array(maxCount);
    this.lengths = new Int32Array(maxCount);
  }

  packet(index: number): Buffer {
    if (index < 0 || index >= this.count) throw new RangeError(`packet ${index} of ${this.count}`);
    const offset = this.offsets[index]!;
    return this.data.subarray(offset, offset + this.lengths[index]!);
  }
}
