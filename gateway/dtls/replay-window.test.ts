import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

const TWO_32 = 2 ** 32;
const split = (seq: number): [number, number] => [Math.floor(seq / TWO_32), seq % TWO_32];

/** Feeds `seqs`; returns which were accepted (check passed, then accept). */
function run(window: ReplayWindow, seqs: number[]): boolean[] {
  return seqs.map((s) => {
    const ok = window.check(...split(s));
    if (ok) window.accept(...split(s));
    return ok;
  });
}

describe('anti-replay window (RFC 6347 §4.1.2.6)', () => {
  it.each([
    ['in order', [0, 1, 2, 3], [true, true, true, true]],
    ['duplicates', [5, 5, 4, 5, 4], [true, false, true, false, false]],
    ['reordered inside the window', [10, 3, 9, 3, 11], [true, true, true, false, true]],
    ['too old after a jump', [0, 100, 68, 69, 4], [true, true, true, true, false]],
    ['left of a 64-bit window', [200, 136, 137, 135], [true, false, true, false]],
    ['across the 32-bit boundary', [TWO_32 - 1, TWO_32, TWO_32 - 1, TWO_32 + 1], [true, true, false, true]],
    ['a reused ring slot starts empty', [1, 2, 129, 130, 2], [true, true, true, true, false]],
    [
      'a jump past the whole ring clears it',
      [1, 2, 10_000, 2, 9_999, 9_937, 9_936],
      [true, true, true, false, true, true, false],
    ],
  ])('%s', (_what, seqs, expected) => {
    expect(run(new ReplayWindow(64), seqs as number[])).toEqual(expected);
  });

  it('does not move on a number that was only checked (a forged record)', () => {
    const w = new ReplayWindow(64);
    run(w, [1]);
    expect(w.check(0, 1_000_000)).toBe(true);
    expect(w.highest).toBe(1);
    expect(w.check(0, 0)).toBe(true);
  });

  it('property: agrees with a model that remembers every number', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(32, 64, 256),
        fc.array(fc.oneof(fc.nat(600), fc.integer({ min: TWO_32 - 300, max: TWO_32 + 300 })), {
          maxLength: 300,
        }),
        (size, seqs) => {
          const w = new ReplayWindow(size);
          const seen = new Set<number>();
          let top = -1;
          for (const s of seqs) {
            const expected = !seen.has(s) && (s > top || top - s < size);
            expect(w.check(...split(s))).toBe(expected);
            if (expected) {
              w.accept(...split(s));
              seen.add(s);
              top = Math.max(top, s);
            }
          }
        },
      ),
    );
  });

  it('refuses sizes that are not a power of two from 32', () => {
    expect(() => new ReplayWindow(48)).toThrow(RangeError);
    expect(() => new ReplayWindow(16)).toThrow(RangeError);
  });
});
