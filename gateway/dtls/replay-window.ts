const TWO_32 = 2 ** 32;

/**
 * The anti-replay window of RFC 6347 §4.1.2.6 (after RFC 4303 §3.4.3) for one epoch: a record
 * whose sequence number is left of the window or already seen is dropped before any decryption;
 * the window moves only after a record authenticates, so forged records cannot push it.
 *
 * The window is `size` bits (a power of two ≥ 32, default 256: far more reordering than a lossy
 * mobile link shows), kept in a ring of twice as many bits in 32-bit words indexed by sequence
 * number, so that the oldest word in the window never shares its slot with the newest.
 */
export class ReplayWindow {
  private readonly words: Uint32Array;
  private readonly mask: number;
  /** Highest sequence number accepted so far, -1 before the first. */
  private top = -1;

  constructor(readonly size = 256) {
    if (size < 32 || size % 32 !== 0 || (size & (size - 1)) !== 0) {
      throw new RangeError(`replay window of ${size} bits (a power of two ≥ 32)`);
    }
    this.words = new Uint32Array(size / 16);
    this.mask = size / 16 - 1;
  }

  /** The highest sequence number accepted, -1 when none. */
  get highest(): number {
    return this.top;
  }

  /** Whether a record with this number may be decrypted (not too old, not seen). */
  check(seqHigh: number, seqLow: number): boolean {
    const seq = seqHigh * TWO_32 + seqLow;
    if (seq > this.top) return true;
    if (this.top - seq >= this.size) return false;
    return (this.words[(seq >>> 5) & this.mask]! & (1 << (seq & 31))) === 0;
  }

  /** Marks a number seen; call only after the record authenticated and `check` allowed it. */
  accept(seqHigh: number, seqLow: number): void {
    const seq = seqHigh * TWO_32 + seqLow;
    if (seq > this.top) {
      // Clear the words the window slides over (whole words: bits are grouped by seq >>> 5).
      const from = this.top < 0 ? 0 : Math.floor(this.top / 32) + 1;
      const to = Math.floor(seq / 32);
      const n = this.words.length;
      for (let w = Math.max(from, to - n + 1); w <= to; w++) this.words[w & this.mask] = 0;
      this.top = seq;
    }
    this.words[(seq >>> 5) & this.mask]! |= 1 << (seq & 31);
  }
}
