import { ErrorCodes, OutpostError } from '../../../core/errors.js';

/**
 * Per-client token bucket (requests per minute) with a bounded table: when the table is full the
 * oldest entry goes, so a flood of source addresses cannot grow memory without limit.
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: () => number = Date.now,
    private readonly maxClients = 100_000,
  ) {}

  /** Throws `busy` when the client has no token left. A rate of 0 disables the limit. */
  take(client: string): void {
    if (this.perMinute === 0) return;
    const now = this.clock();
    const bucket = this.buckets.get(client) ?? { tokens: this.perMinute, updatedMs: now };
    const refill = ((now - bucket.updatedMs) / 60_000) * this.perMinute;
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + refill);
    bucket.updatedMs = now;
    this.buckets.delete(client);
    this.buckets.set(client, bucket);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) throw new OutpostError(ErrorCodes.busy, 'too many requests from this client');
    bucket.tokens -= 1;
  }
}

/** Caps concurrent operations; excess requests are refused at once rather than queued unbounded. */
export class ConcurrencyGate {
  private active = 0;

  constructor(private readonly max: number) {}

  get inFlight(): number {
    return this.active;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) throw new OutpostError(ErrorCodes.busy, 'server busy, retry later');
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
    }
  }
}
