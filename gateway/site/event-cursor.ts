/**
 * Where a node stands in the site's event log. Sequence numbers are handed out when a row is
 * inserted, not when its transaction commits, so a reader can see 12 before 11 appears (or 11
 * never appears: a rolled-back insert used it). The cursor reads from the first number it has not
 * seen, skips what it has, and gives a hole up only after `holeWaitMs`: by then any transaction
 * that held it (one short statement) has committed or is gone.
 */
export class EventCursor {
  private low: number;
  private readonly seen = new Set<number>();
  private holeSince: number | undefined;

  constructor(
    start: number,
    private readonly holeWaitMs = 5000,
  ) {
    this.low = start;
  }

  /** Read events after this. */
  get after(): number {
    return this.low;
  }

  /** The events of `batch` (as read from `after`) not handled before, in order; moves on. */
  accept<E extends { seq: number }>(batch: readonly E[], now: number): E[] {
    const fresh = batch.filter((e) => e.seq > this.low && !this.seen.has(e.seq));
    for (const e of fresh) this.seen.add(e.seq);
    for (;;) {
      if (this.seen.delete(this.low + 1)) {
        this.low++;
        this.holeSince = undefined;
        continue;
      }
      if (this.seen.size === 0) break;
      this.holeSince ??= now;
      if (now - this.holeSince < this.holeWaitMs) break;
      // Give the hole up: jump to just before the next number seen.
      this.low = Math.min(...this.seen) - 1;
      this.holeSince = undefined;
    }
    return fresh;
  }
}
