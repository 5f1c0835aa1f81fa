import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../connector/store/postgres/pg-migrations.js';
import { PostgresState } from '../connector/store/postgres/pg-state.js';
import { postgresStateOptions } from '../container/wiring/postgres-state-options.js';
import { PostgresSessionStore } from '../gateway/site/postgres-session-store.js';
import type { SqlState } from '../gateway/site/sql-state.js';
import { describeSessionStoreContract } from '../gateway/site/testing/session-store-contract.js';
import { requirePeers } from './testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from './testing/postgres.js';

requirePeers(...postgresPrograms());

/**
 * The gateway's shared site state on a real PostgreSQL 15 (started by the test as an unprivileged
 * user): the same contract the memory adapter meets, each case on a fresh database.
 */
let server: RunningPostgres;
const open: PostgresState[] = [];
let databases = 0;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((s) => s.close().catch(() => undefined)));
  await server?.stop();
});

/** A fresh database, migrated, behind its own pool. */
async function freshState(): Promise<PostgresState> {
  const database = `site${++databases}`;
  await server.createDatabase(database);
  const state = await PostgresState.open(
    await postgresStateOptions(
      {
        url: `postgres://${server.user}@127.0.0.1:${server.port}/${database}`,
        passwordFile: server.passwordFile,
        tls: { mode: 'disable', ca: null, cert: null, key: null },
        poolSize: 2,
        connectTimeoutMs: 2000,
        statementTimeoutMs: 10_000,
      },
      PG_MIGRATIONS,
    ),
  );
  open.push(state);
  return state;
}

describeSessionStoreContract('PostgreSQL 15', async () => new PostgresSessionStore(await freshState()));

/** The state, counting the statements sent through it. */
function counted(state: PostgresState): { sql: SqlState; statements: () => number } {
  let statements = 0;
  return {
    sql: {
      query: (text, values, options) => {
        statements++;
        return state.query(text, values, options);
      },
      transaction: (isolation, work) => state.transaction(isolation, work),
    },
    statements: () => statements,
  };
}

describe('take batches on PostgreSQL 15', () => {
  it('two nodes taking the same 40 cookies at once, in opposite orders: one statement each, no deadlock, each session taken by both in turn', async () => {
    const state = await freshState();
    const setup = new PostgresSessionStore(state);
    const T0 = Date.now();
    const sessions = Array.from({ length: 40 }, (_, i) => ({
      id: randomUUID(),
      cookieHash: `hash-${i}`,
      identity: { username: `user${i}`, groups: ['Devices'], method: 'certificate' as const },
      remoteAddress: '198.51.100.7',
      node: 'gw-a',
      state: 'connected' as const,
      ipv4: `10.210.100.${i + 1}`,
      createdAt: T0,
    }));
    for (const s of sessions) await setup.insert(s);
    const [b, c] = [counted(state), counted(state)];
    const [nodeB, nodeC] = [new PostgresSessionStore(b.sql), new PostgresSessionStore(c.sql)];
    const hashes = sessions.map((s) => s.cookieHash);
    const [byB, byC] = await Promise.all([
      Promise.all(hashes.map((h) => nodeB.take(h, 'gw-b', '203.0.113.2', 3_600_000, T0 + 1000))),
      Promise.all(
        [...hashes].reverse().map((h) => nodeC.take(h, 'gw-c', '203.0.113.3', 3_600_000, T0 + 1000)),
      ),
    ]);
    // A deadlock or any failure of a batch would have sent its takes again one by one.
    expect([b.statements(), c.statements()]).toEqual([1, 1]);
    byC.reverse();
    const owners = await setup.openSessions();
    for (const [i, s] of sessions.entries()) {
      const [fromB, fromC] = [byB[i], byC[i]];
      expect(fromB).toMatchObject({ id: s.id, node: 'gw-b', ipv4: s.ipv4, remoteAddress: '203.0.113.2' });
      expect(fromC).toMatchObject({ id: s.id, node: 'gw-c', ipv4: s.ipv4, remoteAddress: '203.0.113.3' });
      // One took it from gw-a, the other then from that one; the row is the second's.
      const order = [fromB!.previousNode, fromC!.previousNode].sort();
      expect([
        ['gw-a', 'gw-b'],
        ['gw-a', 'gw-c'],
      ]).toContainEqual(order);
      const last = fromB!.previousNode === 'gw-a' ? 'gw-c' : 'gw-b';
      expect(owners.find((o) => o.id === s.id)?.node).toBe(last);
    }
    expect(await setup.events(0, 1000)).toHaveLength(80);
  });
});
