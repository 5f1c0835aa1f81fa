/**
 * At most one log line per key per interval, for events a client can repeat at will (a banned
 * address retrying). The key table is bounded (DESIGN rule 4): when full it starts over, which
 * costs at worst one extra line per key.
 */
export class LogLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1024,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when a line for `key` may be logged now (and the interval starts again). */
  allow(key: string): boolean {
    const now = this.now();
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.intervalMs) return false;
    if (at === undefined && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, now);
    return true;
  }
}
