import Database from 'better-sqlite3';
import { makeDatabaseFilePrivate } from '../../core/private-files.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/** Bytes of the database file SQLite maps (PRAGMA mmap_size): a million-certificate inventory is ~400 MB. */
const MMAP_BYTES = 1 << 30;

/**
 * Opens (creating if needed) the appliance database and brings its schema up to date.
 * WAL lets readers (admin API, CLI) run beside the writer; synchronous=NORMAL is durable across
 * process crashes in WAL mode and only risks the last transactions on power loss, which the cloud
 * link's at-least-once delivery covers. `:memory:` works for tests.
 */
export function openDatabase(file: string, opts: { busyTimeoutMs?: number } = {}): Db {
  makeDatabaseFilePrivate(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
  db.pragma('foreign_keys = ON');
  // Pages read through a memory map instead of read() into SQLite's own cache. Every write by
  // another process (the SCEP workers and the primary share this file) makes SQLite drop its whole
  // page cache at the next transaction (WAL index changed), so each request read the B-tree pages
  // it walks again with a system call and a copy; at a million certificates the primary-key and
  // transaction-id leaves it touches are mostly cold in that cache. Mapped pages cost neither;
  // the kernel's page cache is the one cache all processes share. Writes still go through the WAL.
  if (file !== ':memory:') db.pragma(`mmap_size = ${MMAP_BYTES}`);
  migrate(db);
  return db;
}

/** Current schema version (0 = empty database). */
export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

function migrate(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  // IMMEDIATE takes the write lock first, so two processes opening the same file cannot both migrate.
  db.transaction(() => {
    for (let v = schemaVersion(db) + 1; v <= MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v - 1]!);
      record.run(v, Date.now());
    }
  }).immediate();
}
