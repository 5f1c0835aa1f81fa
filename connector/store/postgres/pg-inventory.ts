import { ErrorCodes, isOutpostError, OutpostError } from '../../../core/errors.js';
import { type BatchOutcome, RoundTripBatch } from '../../../core/round-trip-batch.js';
import type { RevocationReason } from '../../../link/schema/revocation-reason.js';
import type {
  ChallengeUse,
  Inventory,
  InventoryFilter,
  InventoryRecord,
  TransactionHistory,
} from '../../ports.js';
import { type CertificateRow, certificateFromRow, certificateRow } from '../rows.js';
import { spendChallenge } from './pg-challenge-spend.js';
import { isUniqueViolation } from './pg-errors.js';
import { byteaFromJson, PARKED_COLUMNS, parkedFromJson } from './pg-pending-store.js';
import type { PostgresState } from './pg-state.js';

type Row = CertificateRow<Date>;

const COLUMNS = `serial_hex, subject, sans, profile, requester, transaction_id, not_before, not_after,
  status, revoked_at, revocation_reason, thumbprint, der, request_hash`;
/**
 * transactionHistory's statement, for the ids of one batch (round-trip-batch.ts): per id, in
 * order, the newest certificate under it (LIMIT 1 on certificates_transaction_id) and its parked
 * request (the pending_requests key), each as one jsonb value, NULL where there is none. One
 * statement is one snapshot at READ COMMITTED (PostgreSQL 15 §13.2.1), so no write committed
 * between the two lookups is half seen. Two columns rather than the 22 of both rows:
 * node-postgres reads the row description and builds a parser per column on every execution,
 * and almost every enrollment finds nothing (NULLs); the rare hit (a client's retry or poll)
 * pays a JSON parse instead.
 */
const HISTORY = `SELECT t.i,
  (SELECT to_jsonb(c) FROM (SELECT ${COLUMNS} FROM certificates WHERE transaction_id = t.tx
    ORDER BY id DESC LIMIT 1) AS c) AS issued,
  (SELECT to_jsonb(p) FROM (SELECT ${PARKED_COLUMNS.join(', ')} FROM pending_requests
    WHERE transaction_id = t.tx) AS p) AS parked
  FROM unnest($1::text[]) WITH ORDINALITY AS t (tx, i)`;

/** The certificates' column types, in COLUMNS order, for the batched INSERT's unnest arrays. */
const COLUMN_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'timestamptz',
  'timestamptz',
  'text',
  'timestamptz',
  'text',
  'text',
  'bytea',
  'text',
];
/**
 * record's statement for the certificates of one batch, one array per column. ON CONFLICT on the
 * serial alone: a serial already there (or recorded by another node meanwhile: the primary key's
 * row lock decides, PostgreSQL 15 §INSERT "ON CONFLICT") is skipped and missing from RETURNING,
 * so that record alone fails with a conflict; any other error fails the statement, and the batch
 * is then retried one record at a time so each gets its own answer.
 */
const INSERT_BATCH = `INSERT INTO certificates (${COLUMNS})
  SELECT * FROM unnest(${COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT (serial_hex) DO NOTHING
  RETURNING serial_hex`;
const INSERT_ONE = `INSERT INTO certificates (${COLUMNS})
  VALUES (${COLUMN_TYPES.map((_, i) => `$${i + 1}`).join(', ')})`;

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

/**
 * The issued-certificate inventory of a site, shared by its nodes: serial uniqueness is the
 * primary key's, so two nodes can never record one serial twice. Reads are single statements
 * (READ COMMITTED, retried once on a dropped connection); writes are single statements whose row
 * lock decides, except a record that spends a challenge (one READ COMMITTED transaction, see
 * pg-challenge-spend.ts). The two statements of every enrollment (transactionHistory, record
 * without a challenge to spend) go batched across this process's requests in flight
 * (round-trip-batch.ts). Serials are compared in lower-case hex.
 */
export class PgInventory implements Inventory {
  /** The enrollments' two statements, each batched across the requests in flight in this process. */
  private readonly histories = new RoundTripBatch((ids: string[]) => this.historyBatch(ids));
  private readonly inserts = new RoundTripBatch((recs: InventoryRecord[]) => this.insertBatch(recs));

  constructor(private readonly state: PostgresState) {}

  async record(rec: InventoryRecord, spending?: ChallengeUse): Promise<void> {
    if (!spending) return this.inserts.run(rec);
    try {
      await this.state.transaction('read committed', async (client) => {
        await spendChallenge(client, spending);
        await client.query(INSERT_ONE, toValues(rec));
      });
    } catch (e) {
      throw asSerialConflict(e, rec.serialHex);
    }
  }

  /** One INSERT for the batch; a serial seen twice in it, or already recorded, fails alone. */
  private async insertBatch(recs: InventoryRecord[]): Promise<Array<BatchOutcome<void>>> {
    const serials = recs.map((rec) => rec.serialHex.toLowerCase());
    const first = serials.map((serial, i) => serials.indexOf(serial) === i);
    const rows = recs.filter((_, i) => first[i]).map(toValues);
    const columns = COLUMN_TYPES.map((_, c) => rows.map((row) => row[c]));
    let inserted: Set<string>;
    try {
      const result = await this.state.query<{ serial_hex: string }>(INSERT_BATCH, columns, {
        prepared: true, // every enrollment
      });
      inserted = new Set(result.rows.map((r) => r.serial_hex));
    } catch (e) {
      // Not a conflict (those are skipped): a dropped connection fails them all, as it would
      // have each; anything else is retried one by one, so only the record at fault fails.
      if (recs.length === 1 || isOutpostError(e)) throw e;
      const outcomes: Array<BatchOutcome<void>> = [];
      for (const rec of recs) {
        // in order, as they were asked: of a serial asked twice, the first wins
        outcomes.push(
          await this.state.query(INSERT_ONE, toValues(rec), { prepared: true }).then(
            () => ({ value: undefined }),
            (error: unknown) => ({ error: asSerialConflict(error, rec.serialHex) }),
          ),
        );
      }
      return outcomes;
    }
    return serials.map((serial, i) =>
      first[i] && inserted.has(serial) ? { value: undefined } : { error: serialConflict(undefined, serial) },
    );
  }

  async bySerial(serialHex: string): Promise<InventoryRecord | undefined> {
    return this.one('WHERE serial_hex = $1', [serialHex.toLowerCase()]);
  }

  async byTransactionId(transactionId: string): Promise<InventoryRecord | undefined> {
    return this.one('WHERE transaction_id = $1 ORDER BY id DESC LIMIT 1', [transactionId]);
  }

  async transactionHistory(transactionId: string): Promise<TransactionHistory> {
    return this.histories.run(transactionId);
  }

  private async historyBatch(ids: string[]): Promise<Array<BatchOutcome<TransactionHistory>>> {
    type Json = Record<string, unknown> | null;
    const { rows } = await this.state.query<{ i: string; issued: Json; parked: Json }>(HISTORY, [ids], {
      idempotent: true,
      prepared: true, // asked on every enrollment
    });
    const answers: Array<BatchOutcome<TransactionHistory>> = ids.map(() => ({ value: {} }));
    for (const { i, issued, parked } of rows) {
      answers[Number(i) - 1] = {
        value: {
          ...(issued ? { issued: certificateFromJson(issued) } : {}),
          ...(parked ? { parked: parkedFromJson(parked) } : {}),
        },
      };
    }
    return answers;
  }

  async byRequester(requester: string): Promise<InventoryRecord | undefined> {
    return this.one('WHERE requester = $1 ORDER BY id DESC LIMIT 1', [requester]);
  }

  /** Newest first (identity order = insertion order across the site). */
  async list(filter: InventoryFilter): Promise<InventoryRecord[]> {
    const limit = Math.min(Math.max(filter.limit ?? DEFAULT_LIST_LIMIT, 0), MAX_LIST_LIMIT);
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.status) where.push(`status = $${values.push(filter.status)}`);
    if (filter.subjectContains) {
      where.push(`strpos(lower(subject), $${values.push(filter.subjectContains.toLowerCase())}) > 0`);
    }
    const limitAt = values.push(limit);
    const offsetAt = values.push(Math.max(filter.offset ?? 0, 0));
    const { rows } = await this.state.query<Row>(
      `SELECT ${COLUMNS} FROM certificates ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${limitAt} OFFSET $${offsetAt}`,
      values,
      { idempotent: true },
    );
    return rows.map(fromRow);
  }

  async count(filter?: Pick<InventoryFilter, 'status'>): Promise<number> {
    const { rows } = filter?.status
      ? await this.state.query<{ n: string }>(
          'SELECT count(*) AS n FROM certificates WHERE status = $1',
          [filter.status],
          {
            idempotent: true,
          },
        )
      : await this.state.query<{ n: string }>('SELECT count(*) AS n FROM certificates', [], {
          idempotent: true,
        });
    return Number(rows[0]?.n ?? 0);
  }

  /** One UPDATE: of two nodes revoking one serial, the second finds it revoked (conflict). */
  async markRevoked(serialHex: string, reason: RevocationReason, at: Date): Promise<void> {
    const serial = serialHex.toLowerCase();
    const updated = await this.state.query(
      `UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2
       WHERE serial_hex = $3 AND status = 'valid'`,
      [at, reason, serial],
    );
    if (updated.rowCount === 1) return;
    if (!(await this.bySerial(serial))) {
      throw new OutpostError(ErrorCodes.notFound, 'unknown certificate serial', { detail: serial });
    }
    throw new OutpostError(ErrorCodes.conflict, 'certificate already revoked', { detail: serial });
  }

  async unmarkRevoked(serialHex: string): Promise<void> {
    await this.state.query(
      `UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL
       WHERE serial_hex = $1 AND status = 'revoked'`,
      [serialHex.toLowerCase()],
      { idempotent: true },
    );
  }

  async revokedEntries(): Promise<Array<{ serialHex: string; revokedAt: Date; reason: RevocationReason }>> {
    const { rows } = await this.state.query<Pick<Row, 'serial_hex' | 'revoked_at' | 'revocation_reason'>>(
      `SELECT serial_hex, revoked_at, revocation_reason FROM certificates
       WHERE status = 'revoked' ORDER BY serial_hex`,
      [],
      { idempotent: true },
    );
    return rows.map((r) => ({
      serialHex: r.serial_hex,
      revokedAt: r.revoked_at ?? new Date(0),
      reason: (r.revocation_reason ?? 'unspecified') as RevocationReason,
    }));
  }

  private async one(where: string, values: unknown[]): Promise<InventoryRecord | undefined> {
    const { rows } = await this.state.query<Row>(`SELECT ${COLUMNS} FROM certificates ${where}`, values, {
      idempotent: true,
      prepared: true, // byTransactionId runs on every enrollment
    });
    return rows[0] && fromRow(rows[0]);
  }
}

function serialConflict(cause: unknown, serialHex: string): OutpostError {
  return new OutpostError(ErrorCodes.conflict, 'serial already recorded', {
    ...(cause !== undefined ? { cause } : {}),
    detail: serialHex,
  });
}

/** A duplicate serial as the port's conflict; any other error as it is. */
function asSerialConflict(e: unknown, serialHex: string): unknown {
  return isUniqueViolation(e, 'certificates_pkey') ? serialConflict(e, serialHex) : e;
}

/** The INSERT's values in COLUMNS order. */
function toValues(rec: InventoryRecord): unknown[] {
  const row = certificateRow(rec, (d) => d);
  return COLUMNS.split(',').map((c) => row[c.trim() as keyof Row]);
}

const fromRow = (row: Row): InventoryRecord => certificateFromRow(row, (d) => d);

/** A certificate row as `to_jsonb` gives it: instants as ISO 8601 text, the DER as bytea text. */
function certificateFromJson(json: Record<string, unknown>): InventoryRecord {
  const row = { ...json, der: byteaFromJson(json.der) } as unknown as CertificateRow<string>;
  return certificateFromRow(row, (iso) => new Date(iso));
}
