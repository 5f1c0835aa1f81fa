/** Reconnect delays: capped exponential backoff with full jitter. */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  baseMs: number;
  /** No delay ever exceeds this. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 60_000 };

/**
 * Delay before reconnect attempt `attempt` (0 = first retry): uniform in [0, min(cap, base·2^attempt)).
 * Full jitter ("Exponential Backoff And Jitter", AWS architecture blog, 2015) spreads a fleet of
 * appliances that lost the cloud at the same moment, so they do not all return in one wave.
 * `random` returns values in [0, 1) like Math.random; tests pass a seeded generator.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(Math.max(0, Math.trunc(attempt)), 30);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * ceiling);
}

/** mulberry32: a tiny seeded PRNG, for reproducible jitter in tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
