import { describe, expect, it } from 'vitest';
import { type BatchOutcome, RoundTripBatch } from './round-trip-batch.js';

/** A send that answers later, when the test says, and records what each statement carried. */
function controlledSend() {
  const sent: number[][] = [];
  const pending: Array<() => void> = [];
  const send = (items: number[]): Promise<Array<BatchOutcome<number>>> => {
    sent.push(items);
    return new Promise((resolve) => {
      pending.push(() =>
        resolve(items.map((n) => (n < 0 ? { error: new Error(`bad ${n}`) } : { value: n * 10 }))),
      );
    });
  };
  const answerNext = async () => {
    await new Promise((r) => setImmediate(r));
    pending.shift()?.();
  };
  return { sent, send, answerNext };
}

describe('RoundTripBatch', () => {
  it('sends a lone call at the end of the turn, and the calls made meanwhile as one batch', async () => {
    const { sent, send, answerNext } = controlledSend();
    const batch = new RoundTripBatch(send);
    const first = batch.run(1);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[1]]);
    const later = [batch.run(2), batch.run(-3), batch.run(4)];
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1); // the first is still on the wire
    await answerNext();
    expect(await first).toBe(10);
    await answerNext();
    const outcomes = await Promise.allSettled(later);
    expect(sent).toEqual([[1], [2, -3, 4]]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : String(o.reason)))).toEqual([
      20,
      'Error: bad -3',
      40,
    ]);
    expect(batch.statements).toBe(2);
  });

  it('rejects every item of a batch whose send throws, and goes on with the next', async () => {
    let calls = 0;
    const batch = new RoundTripBatch(async (items: number[]) => {
      if (++calls === 1) throw new Error('connection lost');
      return items.map((n) => ({ value: n }));
    });
    const failed = await Promise.allSettled([batch.run(1), batch.run(2)]);
    expect(failed.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(await batch.run(3)).toBe(3);
  });

  it('caps a statement at 64 items', async () => {
    const sizes: number[] = [];
    const batch = new RoundTripBatch(async (items: number[]) => {
      sizes.push(items.length);
      return items.map((n) => ({ value: n }));
    });
    await Promise.all(Array.from({ length: 100 }, (_, i) => batch.run(i)));
    expect(sizes).toEqual([64, 36]);
  });
});
