import type pg from 'pg';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';

/**
 * The key of the advisory lock every node takes before looking at the schema: "Outpost" in ASCII.
 * Transaction-scoped (pg_advisory_xact_lock), so a node that dies mid-migration releases it with
 * its connection, and the rolled-back steps are applied by the next node to start.
 */
export const MIGRATION_LOCK_KEY = '22365666123150196';

/** How long a starting node waits for another node's migration before giving up (lock_timeout). */
const LOCK_WAIT = '120s';

export interface MigrationResult {
  /** Schema version before and after this node's start. */
  from: number;
  to: number;
}

/**
 * Brings the schema to `migrations.length` versions, once across all nodes starting together:
 * one transaction takes the advisory lock, reads the version, applies the missing steps (DDL is
 * transactional in PostgreSQL: all of them or none) and records each. A database already past
 * what this binary knows means another node was upgraded first: this one refuses to start
 * (OUTPOST_ERR_STATE_SCHEMA) rather than write rows a newer schema would misread.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  migrations: readonly string[],
  appliedBy: string,
): Promise<MigrationResult> {
  await client.query('BEGIN');
  try {
    // Migrations may rewrite large tables: no statement limit here, but a bounded wait for the lock.
    await client.query(`SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS outpost_schema_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now(),
      applied_by text NOT NULL)`);
    const from = await currentVersion(client);
    if (from > migrations.length) throw schemaTooNew(from, migrations.length, appliedBy);
    for (let v = from + 1; v <= migrations.length; v++) {
      await client.query(migrations[v - 1]!);
      await client.query('INSERT INTO outpost_schema_migrations (version, applied_by) VALUES ($1, $2)', [
        v,
        appliedBy,
      ]);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, migrations.length) };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The highest applied version (0 for an empty database). */
export async function currentVersion(client: Pick<pg.ClientBase, 'query'>): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>(
    'SELECT MAX(version) AS v FROM outpost_schema_migrations',
  );
  return rows[0]?.v ?? 0;
}

export function schemaTooNew(found: number, known: number, binary: string): OutpostError {
  return new OutpostError(
    ErrorCodes.stateSchema,
    `the state database has schema version ${found}, newer than the ${known} this node (${binary}) knows: ` +
      'another node of the site runs a newer Outpost; upgrade this one to it before starting it',
  );
}
