import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChallengeStore, Inventory, PendingStore, SharedCrls } from '../../connector/ports.js';
import { SqliteChallengeStore } from '../../connector/store/challenge-store.js';
import { openDatabase } from '../../connector/store/database.js';
import { SqliteInventory } from '../../connector/store/inventory.js';
import { SqlitePendingStore } from '../../connector/store/pending-store.js';
import { PgChallengeStore } from '../../connector/store/postgres/pg-challenge-store.js';
import { PgCrls } from '../../connector/store/postgres/pg-crls.js';
import { PgInventory } from '../../connector/store/postgres/pg-inventory.js';
import { PG_MIGRATIONS } from '../../connector/store/postgres/pg-migrations.js';
import { PgPendingStore } from '../../connector/store/postgres/pg-pending-store.js';
import { PostgresState } from '../../connector/store/postgres/pg-state.js';
import type { ReadinessResult } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import { postgresStateOptions } from './postgres-state-options.js';

/** The connector's state behind its ports, on the engine state.backend names. */
export interface ConnectorState {
  backend: 'sqlite' | 'postgres';
  inventory: Inventory;
  challengeStore: ChallengeStore;
  pending: PendingStore;
  /** PostgreSQL: the CRLs every node of the site serves (one regenerates, all serve the newest). */
  sharedCrls?: SharedCrls;
  /** For /readyz: the database is open (SQLite) or reachable with a schema this node knows (PostgreSQL). */
  health(): Promise<ReadinessResult>;
  close(): Promise<void>;
}

export function databasePath(config: OutpostConfig): string {
  return join(config.dataDir, 'outpost.db');
}

/**
 * SQLite: the database file in the data directory (one node). PostgreSQL: the site's shared
 * database, migrated (or refused, OUTPOST_ERR_STATE_SCHEMA) at open; a lost server makes state
 * operations fail as `unavailable` and `health` say so until it is back.
 */
export async function openConnectorState(config: OutpostConfig, logger: Logger): Promise<ConnectorState> {
  if (config.state.backend === 'postgres' && config.state.postgres) {
    const options = await postgresStateOptions(config.state.postgres, PG_MIGRATIONS);
    const state = await PostgresState.open({
      ...options,
      onIdleError: (err) =>
        logger.warn(
          { err: { code: (err as { code?: string }).code, message: err.message } },
          'state database connection lost',
        ),
    });
    logger.debug(
      { component: 'state', host: options.host, database: options.database },
      'PostgreSQL state open',
    );
    return {
      backend: 'postgres',
      inventory: new PgInventory(state),
      challengeStore: new PgChallengeStore(state),
      pending: new PgPendingStore(state),
      sharedCrls: new PgCrls(state),
      health: () => state.health(),
      close: () => state.close(),
    };
  }
  const db = openDatabase(databasePath(config));
  return {
    backend: 'sqlite',
    inventory: new SqliteInventory(db),
    challengeStore: new SqliteChallengeStore(db),
    pending: new SqlitePendingStore(db),
    health: async () => (db.open ? { ok: true } : { ok: false, detail: 'database closed' }),
    close: async () => {
      db.close();
    },
  };
}
