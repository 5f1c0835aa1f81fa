import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LinkEvent } from '../../link/schema/index.js';
import { openCloudDb } from './cloud-db.js';
import { Events } from './events.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const event = (i: number): LinkEvent => ({
  kind: 'scep.failed',
  transactionId: `tx-${i}`,
  code: 'OUTPOST_ERR_BAD_REQUEST',
  reason: 'x'.repeat(2000),
});
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function store(limits: ConstructorParameters<typeof Events>[1]) {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-events-'));
  dirs.push(dir);
  const file = join(dir, 'cloud.db');
  const db = openCloudDb(file);
  return { db, file, events: new Events(db, limits) };
}

describe('cloud event store limits', () => {
  it('keeps the newest maxPerAppliance events of each appliance; the file stops growing', () => {
    const { db, file, events } = store({ maxPerAppliance: 200, maxAgeMs: 86_400_000, perMinute: 1e9 });
    const add = (from: number, to: number) => {
      for (let i = from; i < to; i++)
        events.add('a1', `m-${i}`, new Date(T0).toISOString(), event(i), new Date(T0));
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(file).size;
    };
    const after1000 = add(0, 1000);
    const after5000 = add(1000, 5000);
    events.add('a2', 'm-x', new Date(T0).toISOString(), event(0), new Date(T0));
    const kept = events.list({ limit: 10_000, applianceId: 'a1' });
    expect(kept).toHaveLength(200);
    expect(kept[0]?.event).toMatchObject({ transactionId: 'tx-4800' });
    expect(events.list({ limit: 10, applianceId: 'a2' })).toHaveLength(1);
    // Deleted pages are reused: 4,000 more events of 2 KiB do not grow the database.
    expect(after5000).toBeLessThanOrEqual(after1000);
  });

  it('deletes events older than maxAgeMs', () => {
    const { events } = store({ maxPerAppliance: 1000, maxAgeMs: 3600_000, perMinute: 1e9 });
    events.add('a1', 'old', new Date(T0).toISOString(), event(1), new Date(T0));
    events.add('a1', 'new', new Date(T0).toISOString(), event(2), new Date(T0 + 2 * 3600_000));
    expect(events.list({ limit: 10 }).map((e) => e.event)).toEqual([event(2)]);
  });

  it('limits each appliance to perMinute events (a token bucket), others unaffected', () => {
    const { events } = store({ maxPerAppliance: 1000, maxAgeMs: 86_400_000, perMinute: 60 });
    const at = (ms: number) => new Date(T0 + ms);
    const results = Array.from({ length: 61 }, (_, i) =>
      events.add('a1', `m-${i}`, at(0).toISOString(), event(i), at(0)),
    );
    expect(results.filter((r) => r === 'stored')).toHaveLength(60);
    expect(results[60]).toBe('limited');
    expect(events.add('a2', 'm-0', at(0).toISOString(), event(0), at(0))).toBe('stored');
    // One token a second comes back.
    expect(events.add('a1', 'm-61', at(999).toISOString(), event(61), at(999))).toBe('limited');
    expect(events.add('a1', 'm-61', at(1000).toISOString(), event(61), at(1000))).toBe('stored');
    expect(events.list({ limit: 1000, applianceId: 'a1' })).toHaveLength(61);
  });
});
