import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { PostgresSessionStore } from './postgres-session-store.js';
import type { StoredSession } from './session-store.js';
import type { SqlResult, SqlState } from './sql-state.js';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** A session row as the take statements return it, for the cookie hash `hash`. */
function rowFor(hash: string) {
  return {
    cookie_hash: hash,
    id: `id-${hash}`,
    identity: { username: 'alice', groups: ['Devices'], method: 'certificate' },
    state: 'connected',
    ipv4: '10.210.100.131',
    ipv6: null,
    created_ms: T0,
    cookie_expires_ms: null,
    previous_node: 'gw-a',
  };
}

/**
 * The SQL side, scripted: what each statement carried (its first parameter: the cookie hashes or
 * session ids, an array for a batch, a string for one call), and its answer from `answer`, which
 * may throw.
 */
function scriptedSql(answer: (hashes: string[], batch: boolean) => Array<Record<string, unknown>>) {
  const statements: Array<string | string[]> = [];
  const sql: SqlState = {
    async query<R extends Record<string, unknown>>(_text: string, values: unknown[] = []) {
      const asked = values[0] as string | string[];
      statements.push(asked);
      const batch = Array.isArray(asked);
      const rows = answer(batch ? asked : [asked], batch) as R[];
      return { rows, rowCount: rows.length } satisfies SqlResult<R>;
    },
    transaction: () => Promise.reject(new Error('not used here')),
  };
  return { sql, statements };
}

const takeAll = (store: PostgresSessionStore, hashes: string[]) =>
  Promise.allSettled(hashes.map((h) => store.take(h, 'gw-b', '203.0.113.9', HOUR, T0 + 1000)));

const known = (hashes: string[]) => hashes.filter((h) => h.startsWith('k')).map(rowFor);

describe('PostgresSessionStore.take batching', () => {
  it('sends the takes asked at once as one statement of distinct cookies; a cookie asked twice goes again after it', async () => {
    const { sql, statements } = scriptedSql(known);
    const outcomes = await takeAll(new PostgresSessionStore(sql), ['k1', 'unknown', 'k2', 'k1']);
    expect(statements).toEqual([['k1', 'unknown', 'k2'], 'k1']);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value?.id : o.reason))).toEqual([
      'id-k1',
      undefined,
      'id-k2',
      'id-k1',
    ]);
  });

  it.each([
    {
      case: 'a dropped connection fails every take of the batch with its error, tried once',
      failure: new OutpostError(ErrorCodes.unavailable, 'site state unavailable'),
      statements: [['k1', 'k2', 'k3']],
      answers: ['site state unavailable', 'site state unavailable', 'site state unavailable'],
    },
    {
      case: 'another failure of the batch (a deadlock) is tried again one take at a time',
      failure: Object.assign(new Error('deadlock detected'), { code: '40P01' }),
      statements: [['k1', 'k2', 'k3'], 'k1', 'k2', 'k3'],
      answers: ['id-k1', 'id-k2', 'id-k3'],
    },
  ])('$case', async ({ failure, statements: expected, answers }) => {
    const { sql, statements } = scriptedSql((hashes, batch) => {
      if (batch) throw failure;
      return known(hashes);
    });
    const outcomes = await takeAll(new PostgresSessionStore(sql), ['k1', 'k2', 'k3']);
    expect(statements).toEqual(expected);
    expect(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value?.id : (o.reason as Error).message)),
    ).toEqual(answers);
  });
});

describe('PostgresSessionStore.insert batching', () => {
  const stored = (id: string): StoredSession => ({
    id,
    cookieHash: `hash-${id}`,
    identity: { username: 'alice', groups: ['Devices'], method: 'certificate' },
    remoteAddress: '198.51.100.7',
    node: 'gw-a',
    state: 'authenticated',
    createdAt: T0,
  });

  it('sends the inserts asked at once as one statement; one refused in a batch fails alone', async () => {
    const { sql, statements } = scriptedSql((ids) => {
      if (ids.includes('taken')) throw Object.assign(new Error('duplicate key'), { code: '23505' });
      return [];
    });
    const store = new PostgresSessionStore(sql);
    await Promise.all(['s1', 's2'].map((id) => store.insert(stored(id))));
    const outcomes = await Promise.allSettled(['s3', 'taken', 's4'].map((id) => store.insert(stored(id))));
    expect(statements).toEqual([['s1', 's2'], ['s3', 'taken', 's4'], 's3', 'taken', 's4']);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
