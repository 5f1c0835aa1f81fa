import Database from 'better-sqlite3';
import { makeDatabaseFilePrivate } from '../../core/private-files.js';

export type CloudDb = Database.Database;

/**
 * The control plane's state, one migration per entry. Times are epoch milliseconds; JSON bodies are
 * stored as text. Jobs: `offered_to` is the appliance a pending job is currently offered to (one at a
 * time), `accepted_by` the appliance that runs it (it never changes once set); `target_site` limits a
 * role job to the appliances of one site.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE enrollment_tokens (
     id TEXT PRIMARY KEY,
     secret_hash BLOB NOT NULL,
     roles TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     appliance_id TEXT
   );
   CREATE TABLE appliances (
     id TEXT PRIMARY KEY,
     roles TEXT NOT NULL,
     enrolled_at INTEGER NOT NULL,
     revoked_at INTEGER,
     cert_serial TEXT NOT NULL,
     cert_not_after INTEGER NOT NULL,
     version TEXT,
     last_hello_at INTEGER,
     last_health TEXT,
     last_health_at INTEGER,
     config_applied INTEGER,
     config_rejected INTEGER,
     config_rejected_reason TEXT
   );
   CREATE TABLE configs (
     appliance_id TEXT NOT NULL REFERENCES appliances(id),
     version INTEGER NOT NULL,
     body TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (appliance_id, version)
   );
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     target_appliance TEXT,
     target_role TEXT,
     payload TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
     offered_to TEXT,
     accepted_by TEXT,
     result TEXT,
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE INDEX jobs_by_status ON jobs (status, created_at);
   CREATE INDEX jobs_by_offer ON jobs (offered_to, status);
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     appliance_id TEXT NOT NULL,
     message_id TEXT NOT NULL,
     at TEXT NOT NULL,
     kind TEXT NOT NULL,
     body TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     UNIQUE (appliance_id, message_id)
   );
   CREATE TABLE issued_tokens (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     subject TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // Event retention (store/events.ts) deletes per appliance by seq and everything by age.
  `CREATE INDEX events_by_appliance ON events (appliance_id, seq);
   CREATE INDEX events_by_received ON events (received_at);`,
  // Sites: the appliances that share one CA, RA and inventory (issue 15). An enrollment token names the
  // site its appliance joins; a role job may name the site whose appliances may take it.
  `ALTER TABLE appliances ADD COLUMN site TEXT NOT NULL DEFAULT 'default';
   ALTER TABLE enrollment_tokens ADD COLUMN site TEXT;
   ALTER TABLE jobs ADD COLUMN target_site TEXT;`,
];

/**
 * Opens (creating) the cloud database. WAL + synchronous=NORMAL: a crashed cloud loses at most the
 * last transactions on power loss, which the link's at-least-once delivery tolerates (appliances
 * resend unacked results).
 */
export function openCloudDb(file: string): CloudDb {
  makeDatabaseFilePrivate(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)');
  const current = (
    db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
  ).v;
  db.transaction(() => {
    for (let v = (current ?? 0) + 1; v <= MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v - 1]!);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(v, Date.now());
    }
  }).immediate();
  return db;
}
