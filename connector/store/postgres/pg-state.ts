import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { isConnectionLoss, isTransactionRetry, stateUnavailable } from './pg-errors.js';
import { currentVersion, migratePostgres } from './pg-migrate.js';

export interface PostgresStateOptions {
  /** Host name or address, or the directory of the server's Unix socket. */
  host: string;
  port: number;
  user: string;
  database: string;
  /**
   * Read from state.postgres.passwordFile; a function, so that printing or logging these options
   * (util.inspect, JSON) can never show it.
   */
  password?: () => string;
  /** false: no TLS (a Unix socket, a loopback port); else node:tls options (CA, client cert, checks). */
  ssl: false | ConnectionOptions;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** The schema steps this binary knows (see pg-migrate.ts). */
  migrations: readonly string[];
  /** "outpost 0.1.0": recorded with each step applied and named when refusing a newer schema. */
  binary: string;
  /** An idle pooled connection died (server restart, network): logged by the caller, never fatal. */
  onIdleError?: (e: Error) => void;
}

/**
 * Isolation per operation (PostgreSQL 15, chapter 13.2): READ COMMITTED where one statement
 * decides atomically by itself (INSERT … ON CONFLICT, UPDATE … WHERE, DELETE … RETURNING: the row
 * lock taken by the write re-checks the condition); SERIALIZABLE where a decision reads rows and
 * then writes on what it read, and two nodes doing it at once must not both win.
 */
export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** Runs of a transaction the server rolled back as a lost race (40001/40P01) before giving up. */
const MAX_TRANSACTION_TRIES = 12;
/**
 * Full jitter under min(cap, base × 2^attempt) before a re-run: racing nodes that re-ran at once
 * would meet again, and the loser of every round could starve.
 */
const RETRY_BASE_MS = 2;
const RETRY_CAP_MS = 250;

function retryDelay(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempt);
  return new Promise((r) => setTimeout(r, ms));
}
/** One more try of an idempotent statement on a fresh connection after the old one dropped. */
const RECONNECT_DELAY_MS = 100;

/**
 * node-postgres writes each message of a statement (Bind, Describe, Execute, Sync, and Parse when
 * not prepared yet) with its own socket write: four or five syscalls and TCP segments, and as many
 * wake-ups of the server's backend, per statement. Corked until the end of the tick they leave as
 * one write (the cork / nextTick-uncork pattern of Node's stream.Writable documentation); with
 * TLS, the records of one statement leave together.
 */
class CorkedSocket extends Socket {
  private corked = false;

  override write(
    chunk: Uint8Array | string,
    encoding?: BufferEncoding | ((error?: Error | null) => void),
    callback?: (error?: Error | null) => void,
  ): boolean {
    if (!this.corked) {
      this.corked = true;
      this.cork();
      process.nextTick(() => {
        this.corked = false;
        this.uncork();
      });
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }
}

const statementNames = new Map<string, string>();

/**
 * A named prepared statement per distinct text (`prepared: true`, the SCEP path's statements, all
 * fixed strings): each pooled connection parses and plans it once instead of on every call, which
 * is most of the server's work for a one-row SELECT or INSERT (PostgreSQL 15 §55.2.3, extended
 * query protocol). pg prepares a name on a connection the first time it is used there.
 */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `outpost_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * The PostgreSQL side of the state port: a connection pool, migrated to this binary's schema at
 * open. Driver failures that mean "not reachable now" become OutpostError `unavailable`, which
 * every caller already treats as retryable; the pool reconnects by itself when the server is back.
 */
export class PostgresState {
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    private readonly knownVersion: number,
  ) {}

  /** Opens the pool and migrates (or refuses a newer schema, OUTPOST_ERR_STATE_SCHEMA). */
  static async open(options: PostgresStateOptions): Promise<PostgresState> {
    const pool = new pg.Pool({
      host: options.host,
      port: options.port,
      user: options.user,
      database: options.database,
      ...(options.password !== undefined ? { password: options.password } : {}),
      ssl: options.ssl,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      // a node that hangs inside a transaction must not hold row locks the others wait on
      idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      stream: () => new CorkedSocket(),
      application_name: options.binary.replace(/[^\x20-\x7e]/g, '').slice(0, 63),
    });
    // Without a listener an idle client's socket error would be an uncaught 'error' event.
    pool.on('error', (e) => options.onIdleError?.(e));
    try {
      const client = await pool.connect().catch((e: unknown) => {
        throw isConnectionLoss(e) ? stateUnavailable(e) : e;
      });
      try {
        await migratePostgres(client, options.migrations, options.binary);
      } finally {
        client.release();
      }
      return new PostgresState(pool, options.migrations.length);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  /**
   * One statement in its own (autocommit) transaction. `idempotent` statements (reads, and writes
   * whose repetition changes nothing) are tried once more when the connection dropped under them.
   */
  async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
    options: { idempotent?: boolean; prepared?: boolean } = {},
  ): Promise<pg.QueryResult<R>> {
    const config: pg.QueryConfig = options.prepared
      ? { name: statementName(text), text, values }
      : { text, values };
    try {
      return await this.pool.query<R>(config);
    } catch (e) {
      if (!isConnectionLoss(e)) throw e;
      if (!options.idempotent || this.closed) throw stateUnavailable(e);
      await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
      return this.pool.query<R>(config).catch((again: unknown) => {
        throw isConnectionLoss(again) ? stateUnavailable(again) : again;
      });
    }
  }

  /**
   * `work` inside BEGIN … COMMIT at `isolation`, run again from the start when the server rolled
   * it back as a lost race (serialization failure, deadlock), so `work` must only touch the
   * database. A dropped connection is `unavailable` and not retried here: a COMMIT cut off may
   * have happened, and only the caller (a SCEP client retrying its transaction id, a link job
   * re-run by id) can tell.
   */
  async transaction<T>(isolation: Isolation, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (e) {
        throw isConnectionLoss(e) ? stateUnavailable(e) : e;
      }
      let broken = false;
      try {
        await client.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (e) {
        if (isConnectionLoss(e)) {
          broken = true;
          throw stateUnavailable(e);
        }
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (!isTransactionRetry(e) || attempt >= MAX_TRANSACTION_TRIES) throw e;
      } finally {
        // a broken connection is destroyed, not handed to the next caller
        client.release(broken);
      }
      await retryDelay(attempt);
    }
  }

  /**
   * For /readyz: the database answers, and its schema is still one this node knows (another node
   * upgraded meanwhile takes this one out of the load balancer instead of letting it write).
   */
  async health(): Promise<{ ok: boolean; detail?: string }> {
    try {
      const version = await currentVersion(this.pool);
      if (version > this.knownVersion) {
        return {
          ok: false,
          detail: `state schema ${version} is newer than this node's ${this.knownVersion}`,
        };
      }
      return { ok: true };
    } catch (e) {
      return {
        ok: false,
        detail: isConnectionLoss(e) ? 'state database unreachable' : 'state database check failed',
      };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
