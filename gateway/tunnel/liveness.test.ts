import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { maxWaitMs, unwatchLiveness, watchLiveness } from './liveness.js';

const all: Array<{ checkLiveness(now: number): number }> = [];

/** A tunnel that notes when it is visited and says when it is due next. */
function watched(nextAfterMs: (now: number) => number) {
  const visits: number[] = [];
  const t = {
    visits,
    checkLiveness(now: number) {
      visits.push(now - start);
      return nextAfterMs(now);
    },
  };
  all.push(t);
  return t;
}

const start = 1_000_000_000_000; // on a whole second

describe('liveness sweep (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(start);
  });
  afterEach(() => {
    // The sweep's timer stops with the last tunnel (a failed test must not leave it running).
    for (const t of all.splice(0)) unwatchLiveness(t);
    vi.useRealTimers();
  });

  it('visits each tunnel when it is due: every second, at its deadline, at most maxWaitMs apart, never after it ended', () => {
    const busy = watched((now) => now);
    // Due at 5.5 s, then nothing due for long (a quiet tunnel with a long DPD).
    const deadline = watched((now) => (now < start + 5_500 ? start + 5_500 : now + 3_600_000));
    const far = watched(() => Number.POSITIVE_INFINITY);
    const ends = watched(() => start);
    for (const t of [busy, deadline, far, ends]) watchLiveness(t);
    vi.advanceTimersByTime(3_000);
    unwatchLiveness(ends);
    vi.advanceTimersByTime(3 * maxWaitMs);
    expect(busy.visits).toHaveLength(3 + (3 * maxWaitMs) / 1000);
    expect(busy.visits.slice(0, 3)).toEqual([1000, 2000, 3000]);
    // Visited in its second (5 s, not due yet), at the first tick past 5.5 s, then every maxWaitMs.
    expect(deadline.visits).toEqual([1000, 5000, 6000, 36_000, 66_000]);
    expect(far.visits).toEqual([1000, 31_000, 61_000, 91_000]);
    expect(ends.visits).toEqual([1000, 2000, 3000]);
    for (const t of [busy, deadline, far]) unwatchLiveness(t);
    vi.advanceTimersByTime(5_000);
    expect(busy.visits).toHaveLength(3 + (3 * maxWaitMs) / 1000);
  });

  it('catches up the seconds a blocked event loop missed, visiting each due tunnel once', () => {
    const a = watched((now) => (now < start + 2_000 ? start + 2_000 : now + 3_600_000));
    const b = watched((now) => (now < start + 4_000 ? start + 4_000 : now + 3_600_000));
    watchLiveness(a);
    watchLiveness(b);
    vi.advanceTimersByTime(1_000); // both visited at 1 s
    vi.setSystemTime(start + 10_000); // the loop was blocked 9 s; the next tick comes late
    vi.advanceTimersByTime(1_000);
    expect(a.visits).toEqual([1000, 11_000]);
    expect(b.visits).toEqual([1000, 11_000]);
  });
});
