import { describe, expect, it } from 'vitest';
import { BurstPacer } from './burst-pacer.js';

/** Replays a sequence of 'full' (a full batch left mid-turn) and 'end' (end of turn); returns the pauses in ms. */
function replay(gapMicros: number, maxPerTurn: number, events: readonly ('full' | 'end')[]): number[] {
  const pauses: number[] = [];
  const pacer = new BurstPacer(gapMicros, maxPerTurn, (ms) => pauses.push(ms));
  for (const e of events) e === 'full' ? pacer.afterFullBatch() : pacer.endOfTurn();
  expect(pacer.pauses).toBe(pauses.length);
  return pauses;
}

describe('BurstPacer', () => {
  const full = (n: number) => Array<'full'>(n).fill('full');
  it.each([
    ['no pacing when the gap is 0', 0, 8, [...full(5), 'end'], []],
    ['one pause per full batch, in milliseconds', 100, 8, [...full(3), 'end'], [0.1, 0.1, 0.1]],
    ['at most maxPausesPerTurn in one turn', 250, 2, [...full(5), 'end'], [0.25, 0.25]],
    ['each turn has its own allowance', 100, 2, [...full(3), 'end', ...full(3), 'end'], [0.1, 0.1, 0.1, 0.1]],
    ['a turn without a full batch pauses never', 100, 8, ['end', 'end'], []],
  ] as const)('%s', (_name, gap, max, events, expected) => {
    expect(replay(gap, max, events)).toEqual(expected);
  });

  it('the default pause sleeps without throwing on the main thread', () => {
    const pacer = new BurstPacer(1);
    pacer.afterFullBatch();
    expect(pacer.pauses).toBe(1);
  });
});
