import type { Evp } from './evp.js';

/** A reusable output buffer and its address (for the FFI calls that seal records into it). */
export interface Chunk {
  readonly buffer: Buffer;
  readonly address: number;
}

/**
 * Output buffers records are sealed into, shared by all connections of a thread: a chunk goes to
 * the socket with one write and comes back when the write completed. Connections hold a chunk
 * only while they have unsent records, so an idle session owns no buffer at all.
 */
export class ChunkPool {
  private readonly free: Chunk[] = [];

  constructor(
    private readonly evp: Evp,
    readonly chunkSize: number,
    /** Free chunks kept for reuse; more are released to the GC. */
    private readonly maxFree: number,
  ) {}

  take(): Chunk {
    const chunk = this.free.pop();
    if (chunk) return chunk;
    // Not from Node's shared slab: the address must stay this buffer's alone.
    const buffer = Buffer.allocUnsafeSlow(this.chunkSize);
    return { buffer, address: this.evp.address(buffer) };
  }

  give(chunk: Chunk): void {
    if (this.free.length < this.maxFree) this.free.push(chunk);
  }

  get freeChunks(): number {
    return this.free.length;
  }
}
