import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventCursor } from './event-cursor.js';

const events = (...seqs: number[]) => seqs.map((seq) => ({ seq }));

describe('EventCursor', () => {
  it('moves over what it handled and hands nothing out twice', () => {
    const cursor = new EventCursor(10);
    expect(cursor.accept(events(11, 12), 0).map((e) => e.seq)).toEqual([11, 12]);
    expect(cursor.after).toBe(12);
    expect(cursor.accept(events(12, 13), 0).map((e) => e.seq)).toEqual([13]);
    expect(cursor.after).toBe(13);
  });

  it('waits at a hole for a late commit, then gives the hole up', () => {
    const cursor = new EventCursor(0);
    expect(cursor.accept(events(1, 3, 4), 1000).map((e) => e.seq)).toEqual([1, 3, 4]);
    expect(cursor.after).toBe(1); // 2 may still commit
    expect(cursor.accept(events(2, 3, 4), 2000).map((e) => e.seq)).toEqual([2]);
    expect(cursor.after).toBe(4);
    cursor.accept(events(7), 3000); // 5 and 6: a rolled-back insert, say
    expect(cursor.after).toBe(4);
    cursor.accept(events(7), 7999);
    expect(cursor.after).toBe(4);
    cursor.accept(events(7), 8000);
    expect(cursor.after).toBe(7);
  });

  it('hands out every event exactly once, whatever order and repetition they are read in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }), { maxLength: 20 }),
        (reads) => {
          const cursor = new EventCursor(0, 1);
          const handed: number[] = [];
          let now = 0;
          for (const read of reads) {
            const batch = [...new Set(read)].filter((s) => s > cursor.after).sort((a, b) => a - b);
            handed.push(...cursor.accept(events(...batch), now).map((e) => e.seq));
            now += 1;
          }
          expect(new Set(handed).size).toBe(handed.length);
        },
      ),
    );
  });
});
