import { describe, expect, it } from 'vitest';
import { BurstPacer, newBurstCount } from './burst-pacer.js';

/**
 * Replays what a socket does in one or more turns with batches of 4: each step queues one
 * datagram to client `c`, after sending the full batch (and maybe pausing) when 4 are queued;
 * '|' ends the turn (the rest of the batch leaves). Returns the pauses in ms.
 */
function replay(gapMicros: number, maxPerTurn: number, steps: string): number[] {
  const pauses: number[] = [];
  const pacer = new BurstPacer(gapMicros, 4, maxPerTurn, (ms) => pauses.push(ms));
  const clients = new Map<string, ReturnType<typeof newBurstCount>>();
  let queued = 0;
  for (const step of steps) {
    if (step === '|') {
      pacer.endOfTurn();
      queued = 0;
      continue;
    }
    const to = clients.get(step) ?? newBurstCount();
    clients.set(step, to);
    if (queued === 4) {
      queued = 0;
      pacer.afterFullBatch(to);
    }
    pacer.queued(to);
    queued++;
  }
  expect(pacer.pauses).toBe(pauses.length);
  return pauses;
}

describe('BurstPacer', () => {
  it.each([
    ['no pacing when the gap is 0', 0, 8, 'aaaaaaaaaaaa|', []],
    [
      'one client: a pause at each batch end inside its burst, in ms',
      100,
      8,
      'aaaaaaaaaaaaa|',
      [0.1, 0.1, 0.1],
    ],
    ['one batch to one client never pauses', 100, 8, 'aaaa|aaaa|', []],
    ['many clients, under a batch each: no pause however many batches', 100, 8, 'aaabbbcccdddeeefff|', []],
    ['a batch end falls inside a client past its batch', 100, 8, 'aaabbbbaa|', [0.1]],
    ['… but not inside another client', 100, 8, 'aaaabbbbcc|', []],
    ['counts start again each turn', 100, 8, 'aaa|aaa|aaa|', []],
    ['at most maxPausesPerTurn in one turn', 250, 2, 'aaaaaaaaaaaaaaaaaaaa|', [0.25, 0.25]],
    ['each turn has its own allowance', 100, 1, 'aaaaaaaaa|aaaaaaaaa|', [0.1, 0.1]],
  ] as const)('%s: %s', (_name, gap, max, steps, expected) => {
    expect(replay(gap, max, steps)).toEqual(expected);
  });

  it('the default pause sleeps without throwing on the main thread', () => {
    const pacer = new BurstPacer(1, 1);
    const to = newBurstCount();
    pacer.queued(to);
    pacer.afterFullBatch(to);
    expect(pacer.pauses).toBe(1);
  });
});
