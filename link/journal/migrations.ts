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
];
