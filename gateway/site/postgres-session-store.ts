import { isOutpostError } from '../../core/errors.js';
import { type BatchOutcome, RoundTripBatch } from '../../core/round-trip-batch.js';
import type { Ban } from '../auth/ban-points.js';
import type { Identity } from '../session/identity.js';
import type { SessionState } from '../session/session.js';
import { overlapError } from './memory-session-store.js';
import { firstOverlap } from './pool-blocks.js';
import type { SessionMatch, SessionStore, SiteEvent, StoredSession } from './session-store.js';
import type { SqlState } from './sql-state.js';

/** The tables are step 2 of the site schema (connector/store/postgres/pg-migrations.ts). */

interface SessionRow extends Record<string, unknown> {
  id: string;
  cookie_hash: string;
  identity: Identity;
  remote_address: string;
  node: string;
  state: SessionState;
  ipv4: string | null;
  ipv6: string | null;
  created_at: Date;
  cookie_expires_at: Date | null;
}

/** What take() returns: the row's own fields, times in epoch milliseconds (float8). */
interface TakenRow extends Record<string, unknown> {
  id: string;
  identity: Identity;
  state: SessionState;
  ipv4: string | null;
  ipv6: string | null;
  created_ms: number;
  cookie_expires_ms: number | null;
  previous_node: string;
}

/** A row of the batched take: the cookie it answers. */
interface TakenInBatchRow extends TakenRow {
  cookie_hash: string;
}

/** One take() call, as the batch carries it. */
interface TakeAsk {
  cookieHash: string;
  node: string;
  remoteAddress: string;
  maxAgeMs: number;
  now: number;
}

type Taken = StoredSession & { previousNode: string };

interface EventRow extends Record<string, unknown> {
  seq: string;
  kind: SiteEvent['kind'];
  session_id: string | null;
  node: string | null;
  previous_node: string | null;
  reason: string | null;
  address: string | null;
  score: number | null;
  until: Date | null;
}

const SESSION_COLUMNS =
  'id, cookie_hash, identity, remote_address, node, state, ipv4, ipv6, created_at, cookie_expires_at';
/**
 * take() for one cookie: the row is locked, checked as `resumable` checks it, moved to the node,
 * and a `moved` event written when its owner changed. It returns only what the caller does not
 * already hold (the cookie's hash, the node and the remote address are its own arguments), and
 * the times as epoch milliseconds: two timestamp parses and two Date-to-text conversions less per
 * resume in the pg driver.
 */
const TAKE_ONE = `WITH found AS (
    SELECT id, node AS previous_node FROM gateway_sessions
    WHERE cookie_hash = $1 AND state <> 'closed' AND created_at >= to_timestamp($4::float8 / 1000)
      AND (state = 'connected' OR cookie_expires_at IS NULL
        OR cookie_expires_at > to_timestamp($5::float8 / 1000))
    FOR UPDATE),
  taken AS (
    UPDATE gateway_sessions s SET node = $2, remote_address = $3 FROM found WHERE s.id = found.id
    RETURNING s.id, s.identity, s.state, s.ipv4, s.ipv6,
      floor(extract(epoch FROM s.created_at) * 1000)::float8 AS created_ms,
      floor(extract(epoch FROM s.cookie_expires_at) * 1000)::float8 AS cookie_expires_ms,
      found.previous_node),
  moved AS (
    INSERT INTO gateway_events (kind, session_id, node, previous_node)
    SELECT 'moved', id, $2, previous_node FROM taken WHERE previous_node <> $2)
  SELECT * FROM taken`;

/**
 * TAKE_ONE for several distinct cookies at once, each with its own node, remote address and
 * limits (arrays in step). The rows are found through the cookie_hash index (`= ANY`), and
 * locked in id order: two nodes taking overlapping batches at once then wait on each other
 * instead of deadlocking (PostgreSQL 15 §13.3.4: locks taken in one consistent order).
 */
const TAKE_MANY = `WITH asked AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[])
      AS a(cookie_hash, node, remote_address, oldest_ms, now_ms)),
  found AS (
    SELECT s.id, s.node AS previous_node, a.node, a.remote_address
    FROM gateway_sessions s JOIN asked a ON a.cookie_hash = s.cookie_hash
    WHERE s.cookie_hash = ANY($1::text[]) AND s.state <> 'closed'
      AND s.created_at >= to_timestamp(a.oldest_ms / 1000)
      AND (s.state = 'connected' OR s.cookie_expires_at IS NULL
        OR s.cookie_expires_at > to_timestamp(a.now_ms / 1000))
    ORDER BY s.id
    FOR UPDATE OF s),
  taken AS (
    UPDATE gateway_sessions s SET node = found.node, remote_address = found.remote_address
    FROM found WHERE s.id = found.id
    RETURNING s.cookie_hash, s.id, s.identity, s.state, s.ipv4, s.ipv6,
      floor(extract(epoch FROM s.created_at) * 1000)::float8 AS created_ms,
      floor(extract(epoch FROM s.cookie_expires_at) * 1000)::float8 AS cookie_expires_ms,
      found.previous_node, found.node),
  moved AS (
    INSERT INTO gateway_events (kind, session_id, node, previous_node)
    SELECT 'moved', id, node, previous_node FROM taken WHERE previous_node <> node)
  SELECT cookie_hash, id, identity, state, ipv4, ipv6, created_ms, cookie_expires_ms, previous_node
  FROM taken`;

/** A session's columns, in this order, for INSERT_ONE's parameters and INSERT_MANY's arrays. */
const INSERTED = `id, cookie_hash, username, device, identity, remote_address, node, state, ipv4, ipv6,
  created_at, cookie_expires_at`;
const INSERT_ONE = `INSERT INTO gateway_sessions (${INSERTED})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
const INSERT_MANY = `INSERT INTO gateway_sessions (${INSERTED})
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])`;

/** update()'s parameters: id, node, state, ipv4, ipv6, cookie expiry. */
type UpdateAsk = [string, string, string, string | null, string | null, Date | null];
const UPDATE_ONE = `UPDATE gateway_sessions SET state = $3, ipv4 = coalesce($4, ipv4),
    ipv6 = coalesce($5, ipv6), cookie_expires_at = $6
  WHERE id = $1 AND node = $2 AND state <> 'closed'`;
/** UPDATE_ONE for the distinct sessions of a batch, one array per parameter. */
const UPDATE_MANY = `UPDATE gateway_sessions s SET state = u.state, ipv4 = coalesce(u.ipv4, s.ipv4),
    ipv6 = coalesce(u.ipv6, s.ipv6), cookie_expires_at = u.cookie_expires_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
    AS u(id, node, state, ipv4, ipv6, cookie_expires_at)
  WHERE s.id = u.id AND s.node = u.node AND s.state <> 'closed'`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The SessionStore on PostgreSQL (state.backend: postgres), one statement or one short
 * transaction per operation. Read committed throughout, with row locks where a decision reads
 * then writes (take); serializable only for join, where two nodes starting at once with
 * overlapping blocks must not both succeed.
 */
export class PostgresSessionStore implements SessionStore {
  constructor(private readonly sql: SqlState) {}

  async join(node: string, blocks: readonly string[], activeWithinMs: number, now: number): Promise<void> {
    await this.sql.transaction('serializable', async (client) => {
      const { rows } = await client.query<{ node: string; blocks: string[] }>(
        'SELECT node, blocks FROM gateway_nodes WHERE node <> $1 AND seen_at > $2',
        [node, new Date(now - activeWithinMs)],
      );
      for (const other of rows) {
        const overlap = firstOverlap(blocks, other.blocks);
        if (overlap) throw overlapError(node, other.node, overlap);
      }
      await client.query(
        `INSERT INTO gateway_nodes (node, blocks, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (node) DO UPDATE SET blocks = EXCLUDED.blocks, seen_at = EXCLUDED.seen_at`,
        [node, [...blocks], new Date(now)],
      );
    });
  }

  async nodes(): Promise<Array<{ node: string; blocks: string[] }>> {
    const { rows } = await this.sql.query<{ node: string; blocks: string[] }>(
      'SELECT node, blocks FROM gateway_nodes ORDER BY node',
      [],
      { idempotent: true },
    );
    return rows;
  }

  async heartbeat(node: string, now: number): Promise<void> {
    await this.sql.query('UPDATE gateway_nodes SET seen_at = $2 WHERE node = $1', [node, new Date(now)], {
      idempotent: true,
    });
  }

  /** The logins' inserts, batched like the takes (one per login). */
  private readonly inserts = new RoundTripBatch((sessions: StoredSession[]) =>
    inOneStatement(
      sessions,
      (s) => s.id,
      async (firsts) => {
        await this.sql.query(INSERT_MANY, columnsOf(firsts.map(insertValues)), { prepared: true });
        return () => undefined;
      },
      (s) => this.insertOne(s),
    ),
  );

  insert(s: StoredSession): Promise<void> {
    return this.inserts.run(s);
  }

  private async insertOne(s: StoredSession): Promise<void> {
    await this.sql.query(INSERT_ONE, insertValues(s), { prepared: true });
  }

  /**
   * The hot path of a failover storm: the takes asked while this process's previous one is on
   * the wire go as one statement (round-trip-batch.ts), one backend wake-up, plan and commit
   * for all of them instead of one each.
   */
  private readonly takes = new RoundTripBatch((asks: TakeAsk[]) => this.takeBatch(asks));

  take(
    cookieHash: string,
    node: string,
    remoteAddress: string,
    maxAgeMs: number,
    now: number,
  ): Promise<Taken | undefined> {
    return this.takes.run({ cookieHash, node, remoteAddress, maxAgeMs, now });
  }

  /** Each ask answered as a take() of its own would be, in the order asked (inOneStatement). */
  private takeBatch(asks: TakeAsk[]): Promise<Array<BatchOutcome<Taken | undefined>>> {
    return inOneStatement(
      asks,
      (ask) => ask.cookieHash,
      async (firsts) => {
        const rows = await this.takeMany(firsts);
        return (ask) => takenOf(rows.get(ask.cookieHash), ask);
      },
      (ask) => this.takeOne(ask),
    );
  }

  private async takeOne(ask: TakeAsk): Promise<Taken | undefined> {
    const { rows } = await this.sql.query<TakenRow>(
      TAKE_ONE,
      [ask.cookieHash, ask.node, ask.remoteAddress, ask.now - ask.maxAgeMs, ask.now],
      // Prepared: PostgreSQL plans this CTE once per pooled connection, not on every resume.
      { prepared: true },
    );
    return takenOf(rows[0], ask);
  }

  private async takeMany(asks: TakeAsk[]): Promise<Map<string, TakenInBatchRow>> {
    const { rows } = await this.sql.query<TakenInBatchRow>(
      TAKE_MANY,
      [
        asks.map((a) => a.cookieHash),
        asks.map((a) => a.node),
        asks.map((a) => a.remoteAddress),
        asks.map((a) => a.now - a.maxAgeMs),
        asks.map((a) => a.now),
      ],
      { prepared: true },
    );
    return new Map(rows.map((row) => [row.cookie_hash, row]));
  }

  /** The tunnels' state writes, batched like the takes (one per login, up and down of a tunnel). */
  private readonly updates = new RoundTripBatch((asks: UpdateAsk[]) =>
    inOneStatement(
      asks,
      (ask) => ask[0],
      async (firsts) => {
        await this.sql.query(UPDATE_MANY, columnsOf(firsts), { idempotent: true, prepared: true });
        return () => undefined;
      },
      (ask) => this.updateOne(ask),
    ),
  );

  update(
    id: string,
    node: string,
    change: { state: 'connected' | 'disconnected'; ipv4?: string; ipv6?: string; cookieExpiresAt?: number },
  ): Promise<void> {
    return this.updates.run([
      id,
      node,
      change.state,
      change.ipv4 ?? null,
      change.ipv6 ?? null,
      change.state === 'disconnected' && change.cookieExpiresAt !== undefined
        ? new Date(change.cookieExpiresAt)
        : null,
    ]);
  }

  private async updateOne(ask: UpdateAsk): Promise<void> {
    await this.sql.query(UPDATE_ONE, ask, { idempotent: true, prepared: true });
  }

  async close(match: SessionMatch, reason: string, cookieExpiresAt: number) {
    let where: string;
    let values: unknown[];
    if (match.id !== undefined) {
      if (!UUID.test(match.id)) return [];
      where = 'id = $3';
      values = [match.id];
    } else {
      where = '(username = $3 OR device = $4)';
      values = [match.user ?? null, match.device ?? null];
    }
    const { rows } = await this.sql.query<{ session_id: string; node: string }>(
      `WITH closed AS (
         UPDATE gateway_sessions SET state = 'closed', cookie_expires_at = $2
         WHERE state <> 'closed' AND ${where}
         RETURNING id, node)
       INSERT INTO gateway_events (kind, session_id, node, reason)
       SELECT 'closed', id, node, $1 FROM closed
       RETURNING session_id, node`,
      [reason, new Date(cookieExpiresAt), ...values],
    );
    return rows.map((r) => ({ id: r.session_id, node: r.node }));
  }

  async openSessions(): Promise<StoredSession[]> {
    const { rows } = await this.sql.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM gateway_sessions WHERE state <> 'closed'`,
      [],
      { idempotent: true },
    );
    return rows.map(sessionOf);
  }

  async ban(ban: Ban): Promise<void> {
    await this.sql.transaction('read committed', async (client) => {
      await client.query(
        `INSERT INTO gateway_bans (address, score, until) VALUES ($1, $2, $3)
         ON CONFLICT (address) DO UPDATE SET score = EXCLUDED.score, until = EXCLUDED.until`,
        [ban.address, ban.score, new Date(ban.until)],
      );
      await client.query(
        `INSERT INTO gateway_events (kind, address, score, until) VALUES ('banned', $1, $2, $3)`,
        [ban.address, ban.score, new Date(ban.until)],
      );
    });
  }

  async unban(address: string): Promise<void> {
    await this.sql.transaction('read committed', async (client) => {
      await client.query('DELETE FROM gateway_bans WHERE address = $1', [address]);
      await client.query(`INSERT INTO gateway_events (kind, address) VALUES ('unbanned', $1)`, [address]);
    });
  }

  async bans(now: number): Promise<Ban[]> {
    const { rows } = await this.sql.query<{ address: string; score: number; until: Date }>(
      'SELECT address, score, until FROM gateway_bans WHERE until > $1 ORDER BY until',
      [new Date(now)],
      { idempotent: true },
    );
    return rows.map((r) => ({ address: r.address, score: r.score, until: r.until.getTime() }));
  }

  async events(after: number, limit: number): Promise<SiteEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT seq, kind, session_id, node, previous_node, reason, address, score, until
       FROM gateway_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, limit],
      { idempotent: true },
    );
    return rows.map(eventOf);
  }

  async latestSeq(): Promise<number> {
    const { rows } = await this.sql.query<{ seq: string | null }>(
      'SELECT max(seq) AS seq FROM gateway_events',
      [],
      { idempotent: true },
    );
    return Number(rows[0]?.seq ?? 0);
  }

  async sweep(now: number, silentNodeMs: number, eventsKeptMs: number): Promise<void> {
    await this.sql.query(
      `WITH closed AS (
         UPDATE gateway_sessions s SET state = 'closed', cookie_expires_at = $1
         WHERE state <> 'closed' AND NOT EXISTS (
           SELECT 1 FROM gateway_nodes n WHERE n.node = s.node AND n.seen_at > $2)
         RETURNING id, node)
       INSERT INTO gateway_events (kind, session_id, node, reason)
       SELECT 'closed', id, node, 'node gone' FROM closed`,
      [new Date(now), new Date(now - silentNodeMs)],
    );
    await this.sql.query(
      `WITH closed AS (
         UPDATE gateway_sessions SET state = 'closed', cookie_expires_at = $1
         WHERE state IN ('authenticated', 'disconnected') AND cookie_expires_at < $1
         RETURNING id, node)
       INSERT INTO gateway_events (kind, session_id, node, reason)
       SELECT 'closed', id, node, 'cookie timeout' FROM closed`,
      [new Date(now)],
    );
    await this.sql.query(
      `DELETE FROM gateway_sessions WHERE state = 'closed' AND cookie_expires_at <= $1`,
      [new Date(now)],
      { idempotent: true },
    );
    // Bans are caused by unauthenticated addresses: a row lasts only while its ban is in force.
    await this.sql.query('DELETE FROM gateway_bans WHERE until <= $1', [new Date(now)], { idempotent: true });
    // Event times are the server's own (their default), so the server's clock ages them.
    await this.sql.query(
      "DELETE FROM gateway_events WHERE at <= now() - $1 * interval '1 millisecond'",
      [eventsKeptMs],
      { idempotent: true },
    );
  }
}

function insertValues(s: StoredSession): unknown[] {
  return [
    s.id,
    s.cookieHash,
    s.identity.username,
    s.identity.device ?? null,
    JSON.stringify(s.identity),
    s.remoteAddress,
    s.node,
    s.state,
    s.ipv4 ?? null,
    s.ipv6 ?? null,
    new Date(s.createdAt),
    s.cookieExpiresAt === undefined ? null : new Date(s.cookieExpiresAt),
  ];
}

/** Rows of parameters turned into one array per parameter (for unnest). */
function columnsOf(rows: ReadonlyArray<readonly unknown[]>): unknown[][] {
  return rows[0]!.map((_, c) => rows.map((row) => row[c]));
}

/** What take() answers from its row: the caller's own arguments, the row's fields. */
function takenOf(row: TakenRow | undefined, ask: TakeAsk): Taken | undefined {
  if (!row) return undefined;
  return {
    id: row.id,
    cookieHash: ask.cookieHash,
    identity: row.identity,
    remoteAddress: ask.remoteAddress,
    node: ask.node,
    state: row.state,
    ...(row.ipv4 !== null ? { ipv4: row.ipv4 } : {}),
    ...(row.ipv6 !== null ? { ipv6: row.ipv6 } : {}),
    createdAt: row.created_ms,
    ...(row.cookie_expires_ms !== null ? { cookieExpiresAt: row.cookie_expires_ms } : {}),
    previousNode: row.previous_node,
  };
}

/**
 * A batch of asks as one statement (`many`, for the asks of distinct keys) where it can be, with
 * the answer each ask would have had as a statement of its own (`one`), in the order asked:
 * - a lone ask goes alone;
 * - an ask whose key came earlier in the batch (two CONNECTs with one cookie) goes after the
 *   statement, as it would have gone after the earlier one;
 * - a dropped connection (OutpostError `unavailable`) fails them all, as it would have each;
 *   any other failure of the statement as a whole (a deadlock with another node, a key already
 *   there) is retried one ask at a time, so that only the ask at fault fails.
 */
async function inOneStatement<A, R>(
  asks: A[],
  keyOf: (ask: A) => string,
  many: (firsts: A[]) => Promise<(ask: A) => R>,
  one: (ask: A) => Promise<R>,
): Promise<Array<BatchOutcome<R>>> {
  if (asks.length === 1) return settleInOrder([() => one(asks[0]!)]);
  const keys = new Set<string>();
  const first = asks.map((ask) => {
    const key = keyOf(ask);
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  });
  let answer: (ask: A) => R;
  try {
    answer = await many(asks.filter((_, i) => first[i]));
  } catch (e) {
    if (isOutpostError(e)) throw e;
    return settleInOrder(asks.map((ask) => () => one(ask)));
  }
  return settleInOrder(asks.map((ask, i) => (first[i] ? async () => answer(ask) : () => one(ask))));
}

/** Runs each step after the one before, each answer (or error) its own. */
async function settleInOrder<R>(steps: Array<() => Promise<R>>): Promise<Array<BatchOutcome<R>>> {
  const outcomes: Array<BatchOutcome<R>> = [];
  for (const step of steps) {
    outcomes.push(
      await step().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
  }
  return outcomes;
}

function sessionOf(row: SessionRow): StoredSession {
  return {
    id: row.id,
    cookieHash: row.cookie_hash,
    identity: row.identity,
    remoteAddress: row.remote_address,
    node: row.node,
    state: row.state,
    ...(row.ipv4 !== null ? { ipv4: row.ipv4 } : {}),
    ...(row.ipv6 !== null ? { ipv6: row.ipv6 } : {}),
    createdAt: row.created_at.getTime(),
    ...(row.cookie_expires_at !== null ? { cookieExpiresAt: row.cookie_expires_at.getTime() } : {}),
  };
}

function eventOf(row: EventRow): SiteEvent {
  const seq = Number(row.seq);
  switch (row.kind) {
    case 'closed':
      return { seq, kind: 'closed', sessionId: row.session_id!, node: row.node!, reason: row.reason ?? '' };
    case 'moved':
      return { seq, kind: 'moved', sessionId: row.session_id!, node: row.node!, from: row.previous_node! };
    case 'banned':
      return {
        seq,
        kind: 'banned',
        address: row.address!,
        score: row.score ?? 0,
        until: row.until!.getTime(),
      };
    case 'unbanned':
      return { seq, kind: 'unbanned', address: row.address! };
  }
}
