import Database from 'better-sqlite3';
import { makeDatabaseFilePrivate } from '../../core/private-files.js';
import { JOURNAL_MIGRATIONS } from './migrations.js';

export type JournalDb = Database.Database;

/**
 * Opens the journal in WAL mode with synchronous=FULL: a job is journaled before `job.accepted`
 * goes out, so that write must survive a power cut, not only a process crash. `:memory:` for tests.
 */
export function openJournalDb(file: string): JournalDb {
  makeDatabaseFilePrivate(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS journal_migrations (version INTEGER PRIMARY KEY)');
  // Off while migrating: a migration that rebuilds `jobs` drops the old table, which with foreign keys
  // on would cascade into `checkpoints` (the pragma is a no-op inside a transaction, hence out here).
  db.pragma('foreign_keys = OFF');
  db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM journal_migrations').get() as { v: number | null };
    for (let v = (row.v ?? 0) + 1; v <= JOURNAL_MIGRATIONS.length; v++) {
      db.exec(JOURNAL_MIGRATIONS[v - 1]!);
      db.prepare('INSERT INTO journal_migrations (version) VALUES (?)').run(v);
    }
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) throw new Error(`link journal migration broke ${broken.length} references`);
  }).immediate();
  db.pragma('foreign_keys = ON');
  return db;
}
