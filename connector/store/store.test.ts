import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { missingPeers } from '../../test/testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from '../../test/testing/postgres.js';
import type { ChallengeStore, Inventory, InventoryRecord, PendingStore } from '../ports.js';
import { SqliteChallengeStore } from './challenge-store.js';
import { type Db, openDatabase, schemaVersion } from './database.js';
import { SqliteInventory } from './inventory.js';
import { MIGRATIONS } from './migrations.js';
import { SqlitePendingStore } from './pending-store.js';
import { PgChallengeStore } from './postgres/pg-challenge-store.js';
import { PgInventory } from './postgres/pg-inventory.js';
import { PG_MIGRATIONS } from './postgres/pg-migrations.js';
import { PgPendingStore } from './postgres/pg-pending-store.js';
import { PostgresState } from './postgres/pg-state.js';
import { prefillInventory } from './testing/prefill.js';

interface Stores {
  /** PostgreSQL: the database, for a second node on it. */
  url?: string;
  inventory: Inventory;
  challenges: ChallengeStore;
  pending: PendingStore;
  close(): Promise<void>;
}

function sqliteStores(): Promise<Stores> {
  const db = openDatabase(':memory:');
  return Promise.resolve({
    inventory: new SqliteInventory(db),
    challenges: new SqliteChallengeStore(db),
    pending: new SqlitePendingStore(db),
    close: async () => {
      db.close();
    },
  });
}

let server: RunningPostgres | undefined;
let databases = 0;

async function postgresStores(database?: string): Promise<Stores> {
  server ??= await startPostgres();
  const url = new URL(database ?? (await server.createDatabase(`contract_${++databases}`)));
  const password = server.password;
  const state = await PostgresState.open({
    host: server.socketDir,
    port: server.port,
    user: server.user,
    database: url.pathname.slice(1),
    password: () => password,
    ssl: false,
    poolSize: 4,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    migrations: PG_MIGRATIONS,
    binary: 'outpost contract test',
  });
  return {
    url: url.href,
    inventory: new PgInventory(state),
    challenges: new PgChallengeStore(state),
    pending: new PgPendingStore(state),
    close: () => state.close(),
  };
}

/** PostgreSQL joins when installed (CI installs it: there its absence fails the file). */
const postgresMissing = missingPeers(postgresPrograms());
if (postgresMissing.length > 0 && process.env.CI === 'true') {
  throw new Error(`missing peer programs: ${postgresMissing.join(', ')} (npm run peers:install)`);
}
const ADAPTERS: Array<[string, () => Promise<Stores>]> = [
  ['SQLite', sqliteStores],
  ...(postgresMissing.length === 0
    ? [['PostgreSQL', postgresStores] as [string, () => Promise<Stores>]]
    : []),
];
beforeAll(() => {
  if (postgresMissing.length > 0) console.warn(`store contract: PostgreSQL not installed, SQLite only`);
});
afterAll(async () => {
  await server?.stop();
});

const NOW = new Date('2025-03-01T12:00:00.000Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

function record(serialHex: string, over: Partial<InventoryRecord> = {}): InventoryRecord {
  return {
    serialHex,
    subject: `CN=device-${serialHex},O=Example`,
    sans: ['dns:a.test', 'upn:u@corp'],
    profile: 'device',
    requester: 'scep',
    notBefore: NOW,
    notAfter: later(86_400_000),
    status: 'valid',
    thumbprint: 'ab'.repeat(32),
    der: Buffer.from([0x30, 0x00]),
    ...over,
  };
}

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('openDatabase', () => {
  it('migrates once and reopens a file in WAL mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-db-'));
    try {
      const file = join(dir, 'outpost.db');
      const first = openDatabase(file);
      expect(schemaVersion(first)).toBe(MIGRATIONS.length);
      expect(first.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(first.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      await new SqliteInventory(first).record(record('01'));
      first.close();
      const second = openDatabase(file);
      expect(schemaVersion(second)).toBe(MIGRATIONS.length);
      expect(await new SqliteInventory(second).count()).toBe(1);
      second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The storage ports' contract, run against both adapters: SQLite (the embedded default) and
 * PostgreSQL (a site's shared state; one server for this file, a fresh database per test).
 */
describe.each(ADAPTERS)('%s stores', (_name, openStores) => {
  let s: Stores;
  beforeEach(async () => {
    s = await openStores();
  });
  afterEach(() => s.close());

  describe('Inventory', () => {
    it('records and finds by serial (case-insensitive) and transaction id', async () => {
      const inv = s.inventory;
      const rec = record('0A1B', { transactionId: 'tx-1', requestHash: 'cd'.repeat(32) });
      await inv.record(rec);
      expect(await inv.bySerial('0a1b')).toEqual({ ...rec, serialHex: '0a1b' });
      expect((await inv.byTransactionId('tx-1'))?.serialHex).toBe('0a1b');
      expect(await inv.bySerial('ff')).toBeUndefined();
      expect(await codeOf(() => inv.record(rec))).toBe(ErrorCodes.conflict);
    });

    it('answers a transaction id with its newest certificate and its parked request in one call', async () => {
      const inv = s.inventory;
      expect(await inv.transactionHistory('tx-h')).toEqual({});
      const parked = {
        transactionId: 'tx-h',
        csrDer: Buffer.from([1, 2]),
        profile: 'device',
        requester: 'scep',
        subject: 'CN=x',
        createdAt: NOW,
      };
      await s.pending.add(parked);
      expect(await inv.transactionHistory('tx-h')).toEqual({ parked: { ...parked, status: 'pending' } });
      const first = record('01', { transactionId: 'tx-h', requestHash: 'cd'.repeat(32) });
      const second = record('02', {
        transactionId: 'tx-h',
        revokedAt: later(1),
        revocationReason: 'superseded',
        status: 'revoked',
      });
      await inv.record(first);
      await inv.record(second);
      await inv.record(record('03', { transactionId: 'tx-other' }));
      await s.pending.setStatus('tx-h', 'issued', '02');
      expect(await inv.transactionHistory('tx-h')).toEqual({
        issued: second,
        parked: { ...parked, status: 'issued', serialHex: '02' },
      });
      expect(await inv.transactionHistory('tx-other')).toEqual({
        issued: record('03', { transactionId: 'tx-other' }),
      });
    });

    it('answers records and lookups made at once each on its own (one statement each on PostgreSQL)', async () => {
      const inv = s.inventory;
      await inv.record(record('0f', { transactionId: 'tx-old' }));
      const outcomes = await Promise.allSettled([
        inv.record(record('10', { transactionId: 'tx-10' })),
        inv.record(record('0F')), // already recorded
        inv.record(record('11')),
        inv.record(record('11')), // twice among the records of one moment
        inv.record(record('12', { status: 'bogus' as 'valid' })), // the schema's CHECK refuses it
        inv.record(record('13')),
      ]);
      const conflict = ErrorCodes.conflict;
      expect(
        outcomes.map((o) =>
          o.status === 'fulfilled'
            ? 'ok'
            : (o.reason as { code?: string }).code === conflict
              ? conflict
              : 'other',
        ),
      ).toEqual(['ok', conflict, 'ok', conflict, 'other', 'ok']);
      const histories = await Promise.all(
        ['tx-10', 'tx-none', 'tx-old', 'tx-10'].map((tx) => inv.transactionHistory(tx)),
      );
      expect(histories.map((h) => h.issued?.serialHex)).toEqual(['10', undefined, '0f', '10']);
      expect(histories[1]).toEqual({});
      expect(await inv.count()).toBe(4);
    });

    it('revokes, refuses twice, undoes, lists revoked entries ordered by serial', async () => {
      const inv = s.inventory;
      for (const s of ['03', '01', '02']) await inv.record(record(s));
      await inv.markRevoked('03', 'keyCompromise', NOW);
      await inv.markRevoked('01', 'superseded', later(1000));
      expect(await codeOf(() => inv.markRevoked('03', 'keyCompromise', NOW))).toBe(ErrorCodes.conflict);
      expect(await codeOf(() => inv.markRevoked('99', 'keyCompromise', NOW))).toBe(ErrorCodes.notFound);
      expect(await inv.revokedEntries()).toEqual([
        { serialHex: '01', revokedAt: later(1000), reason: 'superseded' },
        { serialHex: '03', revokedAt: NOW, reason: 'keyCompromise' },
      ]);
      expect(await inv.bySerial('03')).toMatchObject({
        status: 'revoked',
        revokedAt: NOW,
        revocationReason: 'keyCompromise',
      });
      await inv.unmarkRevoked('01');
      await inv.unmarkRevoked('02'); // not revoked: no-op
      expect(await inv.bySerial('01')).not.toHaveProperty('revokedAt');
      expect(await inv.count({ status: 'revoked' })).toBe(1);
      expect(await inv.count({ status: 'valid' })).toBe(2);
      expect(await inv.count()).toBe(3);
    });

    it.each([
      [{}, ['05', '04', '03', '02', '01']],
      [{ status: 'revoked' as const }, ['04', '02']],
      [{ subjectContains: 'DEVICE-03' }, ['03']],
      [{ status: 'valid' as const, subjectContains: 'device' }, ['05', '03', '01']],
      [{ limit: 2, offset: 1 }, ['04', '03']],
    ])('list(%j)', async (filter, serials) => {
      const inv = s.inventory;
      for (const s of ['01', '02', '03', '04', '05']) await inv.record(record(s));
      await inv.markRevoked('02', 'unspecified', NOW);
      await inv.markRevoked('04', 'unspecified', NOW);
      expect((await inv.list(filter)).map((r) => r.serialHex)).toEqual(serials);
    });
  });

  describe('ChallengeStore', () => {
    const hour = 3_600_000;
    const use = (key: string, holder: string) => ({ key, holder, expiresAt: later(hour) });

    it('holds a one-time challenge for one transaction at a time, and not after expiry', async () => {
      const store = s.challenges;
      await store.addOneTime('AA', later(60_000), 'device');
      await store.addOneTime('bb', later(60_000));
      await store.addOneTime('cc', later(1000));
      expect(await store.holdOneTime('aa', 'tx-1', NOW, later(5000))).toEqual({ profile: 'device' });
      expect(await store.holdOneTime('aa', 'tx-2', NOW, later(5000))).toBeUndefined(); // held by tx-1
      expect(await store.holdOneTime('aa', 'tx-1', later(1000), later(6000))).toEqual({ profile: 'device' }); // retry
      expect(await store.holdOneTime('aa', 'tx-2', later(6000), later(9000))).toEqual({ profile: 'device' }); // expired hold
      expect(await store.holdOneTime('bb', 'tx-3', NOW, later(5000))).toEqual({});
      expect(await store.holdOneTime('cc', 'tx-4', later(1000), later(5000))).toBeUndefined();
      expect(await store.holdOneTime('dd', 'tx-5', NOW, later(5000))).toBeUndefined();
    });

    it('gives a released hold to the next transaction; a release by another holder does nothing', async () => {
      const store = s.challenges;
      await store.addOneTime('aa', later(60_000));
      expect(await store.holdOneTime('aa', 'tx-1', NOW, later(5000))).toEqual({});
      await store.release(use('otc:aa', 'tx-2'));
      expect(await store.holdOneTime('aa', 'tx-2', NOW, later(5000))).toBeUndefined();
      await store.release(use('otc:aa', 'tx-1'));
      expect(await store.holdOneTime('aa', 'tx-2', NOW, later(5000))).toEqual({});
    });

    it('holds a JWS id until it is spent; a spent id is never held again, even once expired', async () => {
      const store = s.challenges;
      const inventory = s.inventory;
      expect(await store.holdTokenId('jti-1', 'tx-1', NOW, later(5000))).toBe(true);
      expect(await store.holdTokenId('jti-1', 'tx-2', NOW, later(5000))).toBe(false);
      await inventory.record(record('01', { transactionId: 'tx-1' }), {
        key: 'jti:jti-1',
        holder: 'tx-1',
        expiresAt: later(1000),
      });
      expect(await store.holdTokenId('jti-1', 'tx-1', NOW, later(5000))).toBe(false);
      expect(await store.holdTokenId('jti-1', 'tx-2', later(10_000), later(15_000))).toBe(false);
      expect(await store.purgeExpired(later(1000))).toBe(1);
    });

    it('purges expired challenges and holds', async () => {
      const store = s.challenges;
      await store.addOneTime('aa', later(1000));
      await store.holdTokenId('jti-9', 'tx-9', NOW, later(2000));
      expect(await store.purgeExpired(later(2000))).toBe(2);
      expect(await store.holdTokenId('jti-9', 'tx-10', later(2000), later(3000))).toBe(true);
    });
  });

  describe('spending a held challenge with the certificate or PENDING row (issue 11 #3)', () => {
    const spend = (holder: string) => ({ key: 'otc:aa', holder, expiresAt: later(5000) });
    const pendingRow = {
      csrDer: Buffer.from([1]),
      profile: 'device',
      requester: 'scep',
      subject: 'CN=x',
      createdAt: NOW,
    };

    it('records the certificate and deletes the challenge in one transaction', async () => {
      const store = s.challenges;
      const inventory = s.inventory;
      await store.addOneTime('aa', later(60_000));
      await store.holdOneTime('aa', 'tx-1', NOW, later(5000));
      await inventory.record(record('01', { transactionId: 'tx-1' }), spend('tx-1'));
      expect((await inventory.byTransactionId('tx-1'))?.serialHex).toBe('01');
      expect(await store.holdOneTime('aa', 'tx-1', NOW, later(5000))).toBeUndefined();
    });

    it.each([
      [
        'spent already',
        async (store: ChallengeStore, inventory: Inventory) => {
          await store.holdOneTime('aa', 'tx-1', NOW, later(5000));
          await inventory.record(record('01'), spend('tx-1'));
        },
      ],
      [
        'held by another transaction now',
        async (store: ChallengeStore) => {
          await store.holdOneTime('aa', 'tx-1', NOW, later(5000));
          await store.holdOneTime('aa', 'tx-2', later(6000), later(9000));
        },
      ],
    ])('records nothing when the challenge was %s', async (_name, before) => {
      const store = s.challenges;
      const inventory = s.inventory;
      const pending = s.pending;
      await store.addOneTime('aa', later(60_000));
      await before(store, inventory);
      expect(
        await codeOf(() => inventory.record(record('02', { transactionId: 'tx-1' }), spend('tx-1'))),
      ).toBe(ErrorCodes.badChallenge);
      expect(await inventory.bySerial('02')).toBeUndefined();
      expect(await codeOf(() => pending.add({ ...pendingRow, transactionId: 'tx-1' }, spend('tx-1')))).toBe(
        ErrorCodes.badChallenge,
      );
      expect(await pending.get('tx-1')).toBeUndefined();
    });

    it('parks the PENDING row and deletes the challenge in one transaction; a failed insert keeps the challenge', async () => {
      const store = s.challenges;
      const pending = s.pending;
      await store.addOneTime('aa', later(60_000));
      await pending.add({ ...pendingRow, transactionId: 'taken' });
      await store.holdOneTime('aa', 'taken', NOW, later(5000));
      expect(await codeOf(() => pending.add({ ...pendingRow, transactionId: 'taken' }, spend('taken')))).toBe(
        ErrorCodes.conflict,
      );
      expect(await store.holdOneTime('aa', 'tx-2', later(6000), later(9000))).toEqual({}); // rolled back: still there
      await pending.add({ ...pendingRow, transactionId: 'tx-2' }, spend('tx-2'));
      expect((await pending.get('tx-2'))?.status).toBe('pending');
      expect(await store.holdOneTime('aa', 'tx-3', later(10_000), later(19_000))).toBeUndefined();
    });
  });

  describe('PendingStore', () => {
    it('adds, lists by status and moves through states', async () => {
      const store = s.pending;
      const base = { csrDer: Buffer.from([1, 2]), profile: 'device', requester: 'scep', subject: 'CN=x' };
      await store.add({ ...base, transactionId: 't2', createdAt: later(1) });
      await store.add({ ...base, transactionId: 't1', createdAt: NOW });
      expect(await codeOf(() => store.add({ ...base, transactionId: 't1', createdAt: NOW }))).toBe(
        ErrorCodes.conflict,
      );
      expect((await store.list()).map((p) => p.transactionId)).toEqual(['t1', 't2']);
      await store.setStatus('t1', 'approved');
      await store.setStatus('t1', 'issued', 'ABCD');
      expect(await store.get('t1')).toEqual({
        ...base,
        transactionId: 't1',
        createdAt: NOW,
        status: 'issued',
        serialHex: 'abcd',
      });
      expect((await store.list('pending')).map((p) => p.transactionId)).toEqual(['t2']);
      expect(await codeOf(() => store.setStatus('nope', 'rejected'))).toBe(ErrorCodes.notFound);
      // A decided transaction id may carry a new request (the same key re-enrolling); a waiting one may not.
      await store.add({ ...base, subject: 'CN=y', transactionId: 't1', createdAt: later(5) });
      expect(await store.get('t1')).toMatchObject({ subject: 'CN=y', status: 'pending' });
      expect(await store.get('t1')).not.toHaveProperty('serialHex');
      expect(await codeOf(() => store.add({ ...base, transactionId: 't1', createdAt: NOW }))).toBe(
        ErrorCodes.conflict,
      );
      expect(await store.get('nope')).toBeUndefined();
    });
  });
});

describe('SQLite inventory at scale', () => {
  let db: Db;
  beforeEach(() => {
    db = openDatabase(':memory:');
  });
  afterEach(() => db.close());

  it('stays fast with a prefilled inventory', async () => {
    const n = 100_000;
    const t0 = performance.now();
    const serials = prefillInventory(db, n, { now: NOW, revokedEvery: 1000 });
    const prefillMs = performance.now() - t0;
    expect(prefillMs).toBeLessThan(15_000);
    const inv = new SqliteInventory(db);
    expect(await inv.count()).toBe(n);
    const t1 = performance.now();
    for (let i = 0; i < 1000; i++) await inv.bySerial(serials[(i * 7919) % n]!);
    expect(await inv.revokedEntries()).toHaveLength(n / 1000);
    await inv.markRevoked(serials[1]!, 'keyCompromise', NOW);
    expect(performance.now() - t1).toBeLessThan(1000);
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT serial_hex FROM certificates WHERE status = 'revoked' ORDER BY serial_hex`,
      )
      .all();
    expect(JSON.stringify(plan)).toContain('certificates_status_serial');
  });
});

/** Two nodes of a site on one PostgreSQL database: what one decides, the other sees. */
describe.runIf(ADAPTERS.length > 1)('PostgreSQL stores shared by two nodes', () => {
  let a: Stores;
  let b: Stores;
  beforeEach(async () => {
    a = await postgresStores();
    b = await postgresStores(a.url);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('records a serial once across the nodes', async () => {
    const results = await Promise.allSettled([a, b, a, b].map((node) => node.inventory.record(record('0a'))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.conflict });
    }
    expect(await b.inventory.count()).toBe(1);
  });

  it('lets one node hold a challenge or a JWS id at a time, and spends it once', async () => {
    await a.challenges.addOneTime('cc', later(60_000));
    const holds = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? a : b).challenges.holdOneTime('cc', `tx-${i}`, NOW, later(5000)),
      ),
    );
    expect(holds.filter(Boolean)).toHaveLength(1);
    const jtis = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? a : b).challenges.holdTokenId('jti-x', `tx-${i}`, NOW, later(5000)),
      ),
    );
    expect(jtis.filter(Boolean)).toHaveLength(1);
    // The holder on node A and a late one on node B whose hold came after A's expired: one spend wins.
    const holder = `tx-${holds.findIndex(Boolean)}`;
    expect(await b.challenges.holdOneTime('cc', 'tx-late', later(6000), later(9000))).toEqual({});
    const spend = (node: Stores, tx: string, serial: string) =>
      node.inventory.record(record(serial, { transactionId: tx }), {
        key: 'otc:cc',
        holder: tx,
        expiresAt: later(9000),
      });
    const spent = await Promise.allSettled([spend(a, holder, '0b'), spend(b, 'tx-late', '0c')]);
    expect(spent.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(await a.inventory.bySerial('0b')).toBeUndefined();
    expect(await b.challenges.holdOneTime('cc', 'tx-again', later(10_000), later(12_000))).toBeUndefined();
  });

  it('shows a revocation and a parked request made on one node to the other', async () => {
    await a.inventory.record(record('0d'));
    await b.inventory.markRevoked('0d', 'keyCompromise', NOW);
    expect(await a.inventory.bySerial('0d')).toMatchObject({
      status: 'revoked',
      revocationReason: 'keyCompromise',
    });
    await expect(a.inventory.markRevoked('0d', 'unspecified', NOW)).rejects.toMatchObject({
      code: ErrorCodes.conflict,
    });
    const row = {
      csrDer: Buffer.from([1]),
      profile: 'device',
      requester: 'scep',
      subject: 'CN=x',
      createdAt: NOW,
    };
    await a.pending.add({ ...row, transactionId: 'p1' });
    await expect(b.pending.add({ ...row, transactionId: 'p1' })).rejects.toMatchObject({
      code: ErrorCodes.conflict,
    });
    await b.pending.setStatus('p1', 'approved');
    expect((await a.pending.get('p1'))?.status).toBe('approved');
  });
});
