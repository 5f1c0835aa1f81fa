import { describe, expect, it } from 'vitest';
import { LogLimiter } from './log-limiter.js';

describe('LogLimiter', () => {
  it('allows one line per key per interval, keys apart, within a bounded table', () => {
    let now = 1_000;
    const limiter = new LogLimiter(60_000, 2, () => now);
    expect([limiter.allow('a'), limiter.allow('a'), limiter.allow('b')]).toEqual([true, false, true]);
    now += 59_999;
    expect(limiter.allow('a')).toBe(false);
    now += 1;
    expect(limiter.allow('a')).toBe(true);
    // A third key clears the full table: 'b' may log again at once (one extra line at worst).
    expect(limiter.allow('c')).toBe(true);
    expect(limiter.allow('b')).toBe(true);
  });
});
