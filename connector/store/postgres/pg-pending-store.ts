import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { ChallengeUse, PendingRequest, PendingStatus, PendingStore } from '../../ports.js';
import { type PendingRow, pendingFromRow } from '../rows.js';
import { spendChallenge } from './pg-challenge-spend.js';
import type { PostgresState } from './pg-state.js';

type Row = PendingRow<Date>;

/** The columns of a parked request, named (a prepared `*` would fail once a later schema step adds one). */
export const PARKED_COLUMNS = [
  'transaction_id',
  'csr_der',
  'profile',
  'requester',
  'subject',
  'created_at',
  'status',
  'serial_hex',
] as const satisfies ReadonlyArray<keyof Row>;

/** A parked request as `to_jsonb` gives it (pg-inventory.ts transactionHistory). */
export function parkedFromJson(json: Record<string, unknown>): PendingRequest {
  const row = { ...json, csr_der: byteaFromJson(json.csr_der) } as unknown as PendingRow<string>;
  return pendingFromRow(row, (iso) => new Date(iso));
}

/** `to_jsonb` writes bytea as its text form, `\x` and hex (PostgreSQL 15 §8.4.1). */
export function byteaFromJson(value: unknown): Buffer {
  if (typeof value !== 'string' || !value.startsWith('\\x')) {
    throw new OutpostError(ErrorCodes.internal, 'state database returned a malformed bytea');
  }
  return Buffer.from(value.slice(2), 'hex');
}

/**
 * A transaction id whose earlier request was decided (issued, rejected) may carry a new request
 * (the same key re-enrolling, issue 11 #4); one still waiting may not. One statement decides it:
 * ON CONFLICT DO UPDATE locks the existing row and re-checks the WHERE after any concurrent
 * writer committed, so READ COMMITTED is enough for two nodes parking one id at once.
 */
const INSERT = `INSERT INTO pending_requests
  (transaction_id, csr_der, profile, requester, subject, created_at, status)
  VALUES ($1, $2, $3, $4, $5, $6, 'pending')
  ON CONFLICT (transaction_id) DO UPDATE SET csr_der = excluded.csr_der, profile = excluded.profile,
    requester = excluded.requester, subject = excluded.subject, created_at = excluded.created_at,
    status = 'pending', serial_hex = NULL
  WHERE pending_requests.status IN ('issued', 'rejected')`;

/** Parked requests of a site on PostgreSQL: any node may park, poll, approve or reject. */
export class PgPendingStore implements PendingStore {
  constructor(private readonly state: PostgresState) {}

  async add(req: Omit<PendingRequest, 'status' | 'serialHex'>, spending?: ChallengeUse): Promise<void> {
    const values = [req.transactionId, req.csrDer, req.profile, req.requester, req.subject, req.createdAt];
    const inserted = spending
      ? await this.state.transaction('read committed', async (client) => {
          await spendChallenge(client, spending);
          const result = await client.query(INSERT, values);
          // nothing parked: give the challenge back by rolling the spend back too
          if (result.rowCount === 0) throw alreadyPending();
          return result.rowCount;
        })
      : (await this.state.query(INSERT, values)).rowCount;
    if (inserted === 0) throw alreadyPending();
  }

  async get(transactionId: string): Promise<PendingRequest | undefined> {
    const { rows } = await this.state.query<Row>(
      `SELECT ${PARKED_COLUMNS.join(', ')} FROM pending_requests WHERE transaction_id = $1`,
      [transactionId],
      { idempotent: true },
    );
    return rows[0] && fromRow(rows[0]);
  }

  async list(status?: PendingStatus): Promise<PendingRequest[]> {
    const { rows } = status
      ? await this.state.query<Row>(
          'SELECT * FROM pending_requests WHERE status = $1 ORDER BY created_at, transaction_id',
          [status],
          { idempotent: true },
        )
      : await this.state.query<Row>(
          'SELECT * FROM pending_requests ORDER BY created_at, transaction_id',
          [],
          {
            idempotent: true,
          },
        );
    return rows.map(fromRow);
  }

  async setStatus(transactionId: string, status: PendingStatus, serialHex?: string): Promise<void> {
    const updated = await this.state.query(
      'UPDATE pending_requests SET status = $1, serial_hex = COALESCE($2, serial_hex) WHERE transaction_id = $3',
      [status, serialHex?.toLowerCase() ?? null, transactionId],
      { idempotent: true },
    );
    if (updated.rowCount === 0) {
      throw new OutpostError(ErrorCodes.notFound, 'unknown transaction', { detail: transactionId });
    }
  }
}

function alreadyPending(): OutpostError {
  return new OutpostError(ErrorCodes.conflict, 'transaction already pending');
}

const fromRow = (row: Row): PendingRequest => pendingFromRow(row, (d) => d);
