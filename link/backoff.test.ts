import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, seededRandom } from './backoff.js';

const policy = { baseMs: 100, capMs: 5_000 };

describe('backoffDelay', () => {
  it.each([
    // attempt, random, expected: ceiling = min(cap, base·2^attempt)
    [0, 0, 0],
    [0, 0.5, 50],
    [1, 0.5, 100],
    [3, 0.999, 799],
    [5, 0.5, 1_600],
    [6, 0.5, 2_500], // 6400 capped at 5000
    [40, 0.5, 2_500], // large attempts stay capped, no overflow
    [-3, 0.5, 50], // negative attempts count as the first
  ])('attempt %i with random %d → %i ms', (attempt, r, expected) => {
    expect(backoffDelay(attempt, policy, () => r)).toBe(expected);
  });

  it('is always within [0, min(cap, base·2^attempt)) for any random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1, noNaN: true }), (a, r) => {
        const d = backoffDelay(a, DEFAULT_BACKOFF, () => r);
        const ceiling = Math.min(DEFAULT_BACKOFF.capMs, DEFAULT_BACKOFF.baseMs * 2 ** Math.min(a, 30));
        return Number.isInteger(d) && d >= 0 && d < ceiling;
      }),
    );
  });

  it('with a seeded generator gives a reproducible, jittered, capped sequence', () => {
    const run = () => {
      const random = seededRandom(42);
      return Array.from({ length: 12 }, (_, i) => backoffDelay(i, policy, random));
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(6); // jitter: not a fixed ladder
    expect(Math.max(...first)).toBeLessThan(policy.capMs);
  });

  it('full jitter averages half the ceiling once capped', () => {
    const random = seededRandom(7);
    const n = 4000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += backoffDelay(20, policy, random);
    expect(sum / n / policy.capMs).toBeCloseTo(0.5, 1);
  });
});

describe('seededRandom', () => {
  it('yields values in [0, 1)', () => {
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const v = random();
      expect(v >= 0 && v < 1).toBe(true);
    }
  });
});
