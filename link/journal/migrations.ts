/**
 * Schema of the link journal (DATA/link/journal.db), one entry per version. Its own file, not the
 * connector's database: a gateway-only appliance has a link too, and the journal's write rate
 * (one fsync per state change) should not contend with SCEP issuance.
 */
export const JOURNAL_MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('accepted', 'running', 'done', 'delivered')),
     attempts INTEGER NOT NULL DEFAULT 0,
     outcome TEXT,
     result_message_id TEXT UNIQUE,
     received_at INTEGER NOT NULL,
     finished_at INTEGER,
     delivered_at INTEGER
   );
   CREATE INDEX jobs_state ON jobs (state);
   CREATE TABLE checkpoints (
     job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
     data BLOB NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE outbox (
     message_id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     body TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE link_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // `cancelled`: the cloud withdrew a journaled job before it started (job.cancel); it never runs.
  // SQLite cannot widen a CHECK constraint in place: the table is rebuilt (sqlite.org/lang_altertable.html
  // §7, foreign keys off meanwhile: openJournalDb).
  `CREATE TABLE jobs_v2 (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('accepted', 'running', 'done', 'delivered', 'cancelled')),
     attempts INTEGER NOT NULL DEFAULT 0,
     outcome TEXT,
     result_message_id TEXT UNIQUE,
     received_at INTEGER NOT NULL,
     finished_at INTEGER,
     delivered_at INTEGER,
     cancelled_at INTEGER
   );
   INSERT INTO jobs_v2 (id, kind, payload, state, attempts, outcome, result_message_id, received_at, finished_at, delivered_at)
     SELECT id, kind, payload, state, attempts, outcome, result_message_id, received_at, finished_at, delivered_at FROM jobs;
   DROP TABLE jobs;
   ALTER TABLE jobs_v2 RENAME TO jobs;
   CREATE INDEX jobs_state ON jobs (state);`,
];
