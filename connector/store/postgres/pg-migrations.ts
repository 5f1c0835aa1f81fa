/**
 * The PostgreSQL schema of a site's shared state, one step per version, applied once across the
 * nodes under an advisory lock (pg-migrate.ts). Never edit a released step: append one. The tables
 * mirror the SQLite ones (../migrations.ts) with PostgreSQL types: timestamptz for instants,
 * bytea for DER, an identity column for "newest first" where SQLite uses its rowid.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: inventory, one-time challenges and their holds, used JWS ids, pending requests, CRLs
  `
  CREATE TABLE certificates (
    id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    serial_hex text PRIMARY KEY,
    subject text NOT NULL,
    sans text NOT NULL,
    profile text NOT NULL,
    requester text NOT NULL,
    transaction_id text,
    not_before timestamptz NOT NULL,
    not_after timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('valid', 'revoked')),
    revoked_at timestamptz,
    revocation_reason text,
    thumbprint text NOT NULL,
    der bytea NOT NULL,
    request_hash text
  );
  CREATE INDEX certificates_transaction_id ON certificates (transaction_id, id) WHERE transaction_id IS NOT NULL;
  CREATE INDEX certificates_requester ON certificates (requester, id);
  CREATE INDEX certificates_status_id ON certificates (status, id);
  CREATE INDEX certificates_revoked ON certificates (serial_hex) WHERE status = 'revoked';
  CREATE INDEX certificates_not_after ON certificates (not_after);

  CREATE TABLE one_time_challenges (
    hash text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    profile text
  );
  CREATE INDEX one_time_challenges_expires_at ON one_time_challenges (expires_at);

  CREATE TABLE used_token_ids (
    jti text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX used_token_ids_expires_at ON used_token_ids (expires_at);

  CREATE TABLE challenge_holds (
    challenge text PRIMARY KEY,
    holder text NOT NULL,
    held_until timestamptz NOT NULL
  );
  CREATE INDEX challenge_holds_held_until ON challenge_holds (held_until);

  CREATE TABLE pending_requests (
    transaction_id text PRIMARY KEY,
    csr_der bytea NOT NULL,
    profile text NOT NULL,
    requester text NOT NULL,
    subject text NOT NULL,
    created_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'issued')),
    serial_hex text
  );
  CREATE INDEX pending_requests_status ON pending_requests (status, created_at);

  CREATE TABLE crls (
    number bigint PRIMARY KEY CHECK (number > 0),
    this_update timestamptz NOT NULL,
    next_update timestamptz NOT NULL,
    der bytea NOT NULL
  );
  `,
  // 2: the gateway's shared state (gateway/site/postgres-session-store.ts): the nodes and their
  // pool blocks, sessions by hashed cookie, bans, and the events the nodes read from each other
  `
  CREATE TABLE gateway_nodes (
    node text PRIMARY KEY,
    blocks text[] NOT NULL,
    seen_at timestamptz NOT NULL
  );

  CREATE TABLE gateway_sessions (
    id uuid PRIMARY KEY,
    cookie_hash text NOT NULL UNIQUE,
    username text NOT NULL,
    device text,
    identity jsonb NOT NULL,
    remote_address text NOT NULL,
    node text NOT NULL,
    state text NOT NULL CHECK (state IN ('authenticated', 'connected', 'disconnected', 'closed')),
    ipv4 text,
    ipv6 text,
    created_at timestamptz NOT NULL,
    cookie_expires_at timestamptz
  );
  CREATE INDEX gateway_sessions_username ON gateway_sessions (username) WHERE state <> 'closed';
  CREATE INDEX gateway_sessions_device ON gateway_sessions (device) WHERE state <> 'closed';
  CREATE INDEX gateway_sessions_node ON gateway_sessions (node) WHERE state <> 'closed';
  CREATE INDEX gateway_sessions_closed ON gateway_sessions (cookie_expires_at) WHERE state = 'closed';

  CREATE TABLE gateway_bans (
    address text PRIMARY KEY,
    score integer NOT NULL,
    until timestamptz NOT NULL
  );

  CREATE TABLE gateway_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('closed', 'moved', 'banned', 'unbanned')),
    session_id uuid,
    node text,
    previous_node text,
    reason text,
    address text,
    score integer,
    until timestamptz
  );
  CREATE INDEX gateway_events_at ON gateway_events (at);
  `,
];
