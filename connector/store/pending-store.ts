import type { Statement, Transaction } from 'better-sqlite3';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { ChallengeUse, PendingRequest, PendingStatus, PendingStore } from '../ports.js';
import { ChallengeSpender } from './challenge-spend.js';
import type { Db } from './database.js';
import { type PendingRow, pendingFromRow } from './rows.js';

type Row = PendingRow<number>;

/** Requests waiting for manual approval, keyed by SCEP transaction id. */
export class SqlitePendingStore implements PendingStore {
  private readonly insert: Statement;
  private readonly select: Statement<[string], Row>;
  private readonly listAll: Statement<[], Row>;
  private readonly listByStatus: Statement<[string], Row>;
  private readonly update: Statement;

  /** The PENDING row and the challenge it spends, in one IMMEDIATE transaction (issue 11 #3). */
  private readonly addSpending: Transaction<
    (req: Omit<PendingRequest, 'status' | 'serialHex'>, spending: ChallengeUse) => void
  >;

  constructor(db: Db) {
    const spender = new ChallengeSpender(db);
    this.addSpending = db.transaction(
      (req: Omit<PendingRequest, 'status' | 'serialHex'>, spending: ChallengeUse) => {
        spender.spend(spending);
        this.insertRequest(req);
      },
    );
    // A transaction id whose earlier request was decided (issued, rejected) may carry a new
    // request (the same key re-enrolling, issue 11 #4); one still waiting may not.
    this.insert = db.prepare(`INSERT INTO pending_requests
      (transaction_id, csr_der, profile, requester, subject, created_at, status)
      VALUES (?, ?, ?, ?, ?, ?, 'pending')
      ON CONFLICT (transaction_id) DO UPDATE SET csr_der = excluded.csr_der, profile = excluded.profile,
        requester = excluded.requester, subject = excluded.subject, created_at = excluded.created_at,
        status = 'pending', serial_hex = NULL
      WHERE pending_requests.status IN ('issued', 'rejected')`);
    this.select = db.prepare('SELECT * FROM pending_requests WHERE transaction_id = ?');
    this.listAll = db.prepare('SELECT * FROM pending_requests ORDER BY created_at, transaction_id');
    this.listByStatus = db.prepare(
      'SELECT * FROM pending_requests WHERE status = ? ORDER BY created_at, transaction_id',
    );
    this.update = db.prepare(
      'UPDATE pending_requests SET status = ?, serial_hex = COALESCE(?, serial_hex) WHERE transaction_id = ?',
    );
  }

  async add(req: Omit<PendingRequest, 'status' | 'serialHex'>, spending?: ChallengeUse): Promise<void> {
    if (!spending) return this.insertRequest(req);
    this.addSpending.immediate(req, spending);
  }

  private insertRequest(req: Omit<PendingRequest, 'status' | 'serialHex'>): void {
    const { changes } = this.insert.run(
      req.transactionId,
      req.csrDer,
      req.profile,
      req.requester,
      req.subject,
      req.createdAt.getTime(),
    );
    if (changes === 0) throw new OutpostError(ErrorCodes.conflict, 'transaction already pending');
  }

  async get(transactionId: string): Promise<PendingRequest | undefined> {
    const row = this.select.get(transactionId);
    return row && fromRow(row);
  }

  async list(status?: PendingStatus): Promise<PendingRequest[]> {
    return (status ? this.listByStatus.all(status) : this.listAll.all()).map(fromRow);
  }

  async setStatus(transactionId: string, status: PendingStatus, serialHex?: string): Promise<void> {
    if (this.update.run(status, serialHex?.toLowerCase() ?? null, transactionId).changes === 0) {
      throw new OutpostError(ErrorCodes.notFound, 'unknown transaction', { detail: transactionId });
    }
  }
}

const fromRow = (row: Row): PendingRequest => pendingFromRow(row, (ms) => new Date(ms));
