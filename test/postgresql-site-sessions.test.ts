import { afterAll, beforeAll } from 'vitest';
import { PG_MIGRATIONS } from '../connector/store/postgres/pg-migrations.js';
import { PostgresState } from '../connector/store/postgres/pg-state.js';
import { postgresStateOptions } from '../container/wiring/postgres-state-options.js';
import { PostgresSessionStore } from '../gateway/site/postgres-session-store.js';
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

describeSessionStoreContract('PostgreSQL 15', async () => {
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
  return new PostgresSessionStore(state);
});
