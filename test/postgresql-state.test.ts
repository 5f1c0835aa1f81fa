import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../connector/store/postgres/pg-migrations.js';
import { PostgresState, type PostgresStateOptions } from '../connector/store/postgres/pg-state.js';
import { Readiness } from '../container/admin/readiness.js';
import type { PostgresStateConfig } from '../container/config/schema-state.js';
import { postgresStateOptions } from '../container/wiring/postgres-state-options.js';
import { ErrorCodes } from '../core/errors.js';
import { requirePeers } from './testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from './testing/postgres.js';

requirePeers(...postgresPrograms(), 'openssl');

/**
 * The PostgreSQL state layer against a real PostgreSQL 15 (one server for the file, started as an
 * unprivileged user; a database per test): migrations once across nodes under the advisory lock,
 * the refusal of a node older than the schema, connection loss as a retryable error that /readyz
 * shows, serialization retries, TLS verification through the config.
 */
describe('PostgreSQL state', () => {
  let server: RunningPostgres;
  let secrets: string;
  const open: PostgresState[] = [];

  beforeAll(async () => {
    server = await startPostgres({ tls: true });
    secrets = mkdtempSync(join(tmpdir(), 'outpost-pg-secret-'));
    writeFileSync(join(secrets, 'password'), `${server.password}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    await Promise.all(open.map((s) => s.close().catch(() => undefined)));
    await server?.stop();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  function config(database: string, extra: Partial<PostgresStateConfig> = {}): PostgresStateConfig {
    return {
      url: `postgres://${server.user}@127.0.0.1:${server.port}/${database}`,
      passwordFile: join(secrets, 'password'),
      tls: { ca: server.caFile!, cert: null, key: null },
      poolSize: 4,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 10_000,
      ...extra,
    };
  }

  async function options(
    database: string,
    migrations: readonly string[],
    extra: Partial<PostgresStateOptions> = {},
  ): Promise<PostgresStateOptions> {
    return { ...(await postgresStateOptions(config(database), migrations)), ...extra };
  }

  async function openState(opts: PostgresStateOptions): Promise<PostgresState> {
    const state = await PostgresState.open(opts);
    open.push(state);
    return state;
  }

  it('applies the schema once when four nodes start together, and again as a no-op', async () => {
    await server.createDatabase('race');
    // Each step logs itself and sleeps, so unlocked nodes would overlap and apply it twice.
    const steps = [1, 2, 3].map(
      (v) => `${v === 1 ? 'CREATE TABLE applied (version int NOT NULL);' : ''}
        INSERT INTO applied VALUES (${v}); SELECT pg_sleep(0.1);`,
    );
    const nodes = await Promise.all(
      [1, 2, 3, 4].map(async () => openState(await options('race', steps, { binary: 'outpost test' }))),
    );
    const { rows } = await nodes[0]!.query<{ version: number; n: string }>(
      'SELECT version, count(*) AS n FROM applied GROUP BY version ORDER BY version',
    );
    expect(rows).toEqual([
      { version: 1, n: '1' },
      { version: 2, n: '1' },
      { version: 3, n: '1' },
    ]);
    const recorded = await nodes[0]!.query<{ version: number; applied_by: string }>(
      'SELECT version, applied_by FROM outpost_schema_migrations ORDER BY version',
    );
    expect(recorded.rows).toEqual([1, 2, 3].map((version) => ({ version, applied_by: 'outpost test' })));
    await openState(await options('race', steps));
    expect((await nodes[0]!.query('SELECT * FROM applied')).rowCount).toBe(3);
  });

  it('applies the real schema, and a node whose binary knows fewer steps refuses to start', async () => {
    await server.createDatabase('upgrade');
    const newer = await openState(await options('upgrade', [...PG_MIGRATIONS, 'CREATE TABLE later (x int)']));
    const tables = await newer.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(tables.rows.map((r) => r.t)).toEqual([
      'certificates',
      'challenge_holds',
      'crls',
      'gateway_bans',
      'gateway_events',
      'gateway_nodes',
      'gateway_sessions',
      'later',
      'one_time_challenges',
      'outpost_schema_migrations',
      'pending_requests',
      'used_token_ids',
    ]);
    await expect(PostgresState.open(await options('upgrade', PG_MIGRATIONS))).rejects.toMatchObject({
      code: ErrorCodes.stateSchema,
      clientMessage: expect.stringMatching(
        /^the state database has schema version 3, newer than the 2 this node \(outpost [^)]+\) knows: .*upgrade this one/,
      ),
    });
  });

  it('shows a node left behind by a newer one in /readyz', async () => {
    await server.createDatabase('behind');
    const older = await openState(await options('behind', PG_MIGRATIONS));
    const readiness = new Readiness();
    readiness.register('state', () => older.health());
    expect(await readiness.run()).toEqual({ ready: true, checks: { state: { ok: true } } });
    await openState(await options('behind', [...PG_MIGRATIONS, 'SELECT 1']));
    expect(await readiness.run()).toEqual({
      ready: false,
      checks: { state: { ok: false, detail: "state schema 3 is newer than this node's 2" } },
    });
  });

  it('turns a lost server into a retryable error and an unready node, and recovers when it returns', async () => {
    await server.createDatabase('loss');
    const idleErrors: Error[] = [];
    const state = await openState(
      await options('loss', PG_MIGRATIONS, { onIdleError: (e) => idleErrors.push(e) }),
    );
    const readiness = new Readiness();
    readiness.register('state', () => state.health());
    await state.query('SELECT 1');
    await server.kill();
    try {
      const report = await readiness.run();
      expect(report).toEqual({
        ready: false,
        checks: { state: { ok: false, detail: 'state database unreachable' } },
      });
      const unavailable = { code: ErrorCodes.unavailable, clientMessage: 'state database unavailable' };
      await expect(state.query('SELECT 1', [], { idempotent: true })).rejects.toMatchObject(unavailable);
      await expect(state.transaction('serializable', (c) => c.query('SELECT 1'))).rejects.toMatchObject(
        unavailable,
      );
    } finally {
      await server.start();
    }
    expect(await readiness.run()).toEqual({ ready: true, checks: { state: { ok: true } } });
    expect((await state.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // the idle connection the kill dropped was reported, not thrown at the process
    expect(idleErrors.length).toBeGreaterThan(0);
  });

  it('runs a serializable read-then-write again when a concurrent one won the race', async () => {
    await server.createDatabase('races');
    const state = await openState(
      await options('races', ['CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)']),
    );
    // 2 × 10 increments that read, wait, then write what they read + 1: without SERIALIZABLE and
    // the retry, increments would be lost; with them, every one lands.
    const bump = () =>
      state.transaction('serializable', async (c) => {
        const { rows } = await c.query<{ n: number }>('SELECT n FROM counter');
        await c.query('SELECT pg_sleep(0.01)');
        await c.query('UPDATE counter SET n = $1', [rows[0]!.n + 1]);
      });
    await Promise.all(
      [0, 1].map(async () => {
        for (let i = 0; i < 10; i++) await bump();
      }),
    );
    expect((await state.query<{ n: number }>('SELECT n FROM counter')).rows).toEqual([{ n: 20 }]);
  });

  it('verifies the server certificate: verify-full with the right CA, refusal with another', async () => {
    await server.createDatabase('tls');
    const state = await openState(await options('tls', []));
    const { rows } = await state.query<{ ssl: boolean }>(
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows).toEqual([{ ssl: true }]);
    const otherCa = join(secrets, 'other-ca.pem');
    writeFileSync(otherCa, (await import('node:tls')).rootCertificates[0]!);
    const wrongCa = await postgresStateOptions(
      { ...config('tls'), tls: { ca: otherCa, cert: null, key: null } },
      [],
    );
    await expect(PostgresState.open(wrongCa)).rejects.toThrow(/self-signed certificate|unable to verify/);
    // the server takes TCP clients over TLS only (hostssl): disable is refused by pg_hba
    const plain = await postgresStateOptions(
      { ...config('tls'), tls: { mode: 'disable', ca: null, cert: null, key: null } },
      [],
    );
    await expect(PostgresState.open(plain)).rejects.toThrow(/pg_hba.conf|no encryption/);
  });

  it('reaches the server on its Unix socket without TLS', async () => {
    await server.createDatabase('socket');
    const url = `postgres://${server.user}@${encodeURIComponent(server.socketDir)}:${server.port}/socket`;
    const opts = await postgresStateOptions(
      { ...config('socket'), url, tls: { ca: null, cert: null, key: null } },
      PG_MIGRATIONS,
    );
    expect(opts.ssl).toBe(false);
    const state = await openState(opts);
    expect((await state.query('SELECT 1')).rowCount).toBe(1);
  });

  it('keeps the password out of the options as printed', async () => {
    const opts = await postgresStateOptions(config('postgres'), []);
    const { inspect } = await import('node:util');
    expect(inspect(opts, { depth: 5 })).not.toContain(server.password);
    expect(JSON.stringify(opts)).not.toContain(server.password);
    expect(opts.password?.()).toBe(server.password);
  });
});
