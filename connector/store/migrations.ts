/**
 * Schema versions, applied in order inside one transaction each. Never edit a released step:
 * append a new one. Dates are milliseconds since the epoch (INTEGER), so range scans on
 * not_after and expiry stay index-friendly.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: inventory, one-time challenges, used JWS ids, pending requests
  `
  CREATE TABLE certificates (
    serial_hex TEXT NOT NULL PRIMARY KEY,
    subject TEXT NOT NULL,
    sans TEXT NOT NULL,
    profile TEXT NOT NULL,
    requester TEXT NOT NULL,
    transaction_id TEXT,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    revoked_at INTEGER,
    revocation_reason TEXT,
    thumbprint TEXT NOT NULL,
    der BLOB NOT NULL
  );
  CREATE INDEX certificates_transaction_id ON certificates (transaction_id) WHERE transaction_id IS NOT NULL;
  CREATE INDEX certificates_status_serial ON certificates (status, serial_hex);
  CREATE INDEX certificates_not_after ON certificates (not_after);

  CREATE TABLE one_time_challenges (
    hash TEXT NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    profile TEXT
  ) WITHOUT ROWID;
  CREATE INDEX one_time_challenges_expires_at ON one_time_challenges (expires_at);

  CREATE TABLE used_token_ids (
    jti TEXT NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX used_token_ids_expires_at ON used_token_ids (expires_at);

  CREATE TABLE pending_requests (
    transaction_id TEXT NOT NULL PRIMARY KEY,
    csr_der BLOB NOT NULL,
    profile TEXT NOT NULL,
    requester TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'issued')),
    serial_hex TEXT
  );
  CREATE INDEX pending_requests_status ON pending_requests (status, created_at);
  `,
  // 2: find a certificate by requester, e.g. a link job re-run after a crash ("job:<jobId>")
  `
  CREATE INDEX certificates_requester ON certificates (requester);
  `,
  // 3: a one-time challenge or JWS id held by the request using it until the certificate (or the
  // PENDING row) that spends it is written; key is 'otc:<hash>' or 'jti:<id>' (issue 11 #3)
  `
  CREATE TABLE challenge_holds (
    challenge TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    held_until INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX challenge_holds_held_until ON challenge_holds (held_until);
  `,
  // 4: SHA-256 of the CertificationRequestInfo a certificate was issued for: a retried SCEP
  // transaction is the same transaction id AND the same request (issue 11 #4); NULL before
  `
  ALTER TABLE certificates ADD COLUMN request_hash TEXT;
  `,
];
