import { ErrorCodes, OutpostError } from '../../../core/errors.js';
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
 * transactionHistory's one statement: the newest certificate under the id (LIMIT 1 on
 * certificates_transaction_id) and its parked request (the pending_requests key), each as one
 * jsonb value, NULL where there is none. One statement is one snapshot at READ COMMITTED
 * (PostgreSQL 15 §13.2.1), so no write committed between the two lookups is half seen. Two
 * columns rather than the 22 of both rows: node-postgres reads the row description and builds a
 * parser per column on every execution, and almost every enrollment finds nothing (one row of
 * NULLs); the rare hit (a client's retry or poll) pays a JSON parse instead.
 */
const HISTORY = `SELECT
  (SELECT to_jsonb(c) FROM (SELECT ${COLUMNS} FROM certificates WHERE transaction_id = $1
    ORDER BY id DESC LIMIT 1) AS c) AS issued,
  (SELECT to_jsonb(p) FROM (SELECT ${PARKED_COLUMNS.join(', ')} FROM pending_requests
    WHERE transaction_id = $1) AS p) AS parked`;

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

/**
 * The issued-certificate inventory of a site, shared by its nodes: serial uniqueness is the
 * primary key's, so two nodes can never record one serial twice. Reads are single statements
 * (READ COMMITTED, retried once on a dropped connection); writes are single statements whose row
 * lock decides, except a record that spends a challenge (one READ COMMITTED transaction, see
 * pg-challenge-spend.ts). Serials are compared in lower-case hex.
 */
export class PgInventory implements Inventory {
  constructor(private readonly state: PostgresState) {}

  async record(rec: InventoryRecord, spending?: ChallengeUse): Promise<void> {
    const values = toValues(rec);
    const insert = `INSERT INTO certificates (${COLUMNS})
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;
    try {
      if (!spending) await this.state.query(insert, values, { prepared: true });
      else {
        await this.state.transaction('read committed', async (client) => {
          await spendChallenge(client, spending);
          await client.query(insert, values);
        });
      }
    } catch (e) {
      if (isUniqueViolation(e, 'certificates_pkey')) {
        throw new OutpostError(ErrorCodes.conflict, 'serial already recorded', {
          cause: e,
          detail: rec.serialHex,
        });
      }
      throw e;
    }
  }

  async bySerial(serialHex: string): Promise<InventoryRecord | undefined> {
    return this.one('WHERE serial_hex = $1', [serialHex.toLowerCase()]);
  }

  async byTransactionId(transactionId: string): Promise<InventoryRecord | undefined> {
    return this.one('WHERE transaction_id = $1 ORDER BY id DESC LIMIT 1', [transactionId]);
  }

  async transactionHistory(transactionId: string): Promise<TransactionHistory> {
    type Json = Record<string, unknown> | null;
    const { rows } = await this.state.query<{ issued: Json; parked: Json }>(HISTORY, [transactionId], {
      idempotent: true,
      prepared: true, // asked on every enrollment
    });
    const { issued, parked } = rows[0] ?? { issued: null, parked: null };
    return {
      ...(issued ? { issued: certificateFromJson(issued) } : {}),
      ...(parked ? { parked: parkedFromJson(parked) } : {}),
    };
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
