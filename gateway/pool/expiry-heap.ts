/**
 * A binary min-heap of (expiresAt, key) used to find reservations whose time is up without scanning
 * every lease. Entries are never removed from the middle: the pool checks on pop whether an entry is
 * still current (lazy deletion), which keeps every operation O(log n).
 */
export interface ExpiryEntry {
  readonly expiresAt: number;
  readonly key: string;
  /** The reservation generation this entry was made for; stale entries are skipped by the pool. */
  readonly generation: number;
}

export class ExpiryHeap {
  private readonly items: ExpiryEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): ExpiryEntry | undefined {
    return this.items[0];
  }

  push(entry: ExpiryEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.expiresAt <= entry.expiresAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): ExpiryEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.expiresAt < items[left]!.expiresAt ? right : left;
      if (items[child]!.expiresAt >= last.expiresAt) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
