/**
 * Free client slots of a pool, by offset. Never-used slots come from a bump cursor; released slots
 * go to the back of a FIFO so an address that was just given up is reused as late as possible (stale
 * routes, neighbour caches and in-flight packets for the old owner have time to die out). Both ends
 * are O(1); a slot taken out of order (a preferred address) is marked in `taken` and its FIFO entry
 * is skipped later instead of being searched for.
 */
export class OffsetFreeList {
  /** 1 = in use (leased or reserved), 0 = free or never used. */
  private readonly taken: Uint8Array;
  private cursor = 0;
  private fifo: Int32Array;
  private head = 0;
  private tail = 0;
  private freeCount: number;

  constructor(readonly capacity: number) {
    this.taken = new Uint8Array(capacity);
    this.fifo = new Int32Array(Math.min(capacity, 1024) + 1);
    this.freeCount = capacity;
  }

  get available(): number {
    return this.freeCount;
  }

  isTaken(offset: number): boolean {
    return this.taken[offset] === 1;
  }

  /** Takes the next free slot, or returns -1 when none is left. */
  take(): number {
    // Never-used slots first: a released address then rests as long as the pool allows.
    while (this.cursor < this.capacity) {
      const offset = this.cursor++;
      if (this.taken[offset] === 0) return this.mark(offset);
    }
    while (this.head !== this.tail) {
      const offset = this.fifo[this.head]!;
      this.head = (this.head + 1) % this.fifo.length;
      if (this.taken[offset] === 0) return this.mark(offset);
    }
    return -1;
  }

  /** Takes a specific slot if it is free. */
  takeSpecific(offset: number): boolean {
    if (offset < 0 || offset >= this.capacity || this.taken[offset] === 1) return false;
    this.mark(offset);
    return true;
  }

  give(offset: number): void {
    if (this.taken[offset] !== 1) return;
    this.taken[offset] = 0;
    this.freeCount++;
    // Slots the bump cursor has not reached yet need no FIFO entry.
    if (offset >= this.cursor) return;
    this.enqueue(offset);
  }

  private mark(offset: number): number {
    this.taken[offset] = 1;
    this.freeCount--;
    return offset;
  }

  private enqueue(offset: number): void {
    const next = (this.tail + 1) % this.fifo.length;
    if (next === this.head) this.grow();
    this.fifo[this.tail] = offset;
    this.tail = (this.tail + 1) % this.fifo.length;
  }

  /**
   * Stale entries (slots re-taken by preference) can make the FIFO hold more entries than free
   * slots; compact them away first and only grow the array when that is not enough.
   */
  private grow(): void {
    const live: number[] = [];
    for (let i = this.head; i !== this.tail; i = (i + 1) % this.fifo.length) {
      const offset = this.fifo[i]!;
      if (this.taken[offset] === 0) live.push(offset);
    }
    const length = Math.max(this.fifo.length, live.length * 2 + 2);
    this.fifo = new Int32Array(length);
    this.fifo.set(live);
    this.head = 0;
    this.tail = live.length;
  }
}
