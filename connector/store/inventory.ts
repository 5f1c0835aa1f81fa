import type { Statement } from 'better-sqlite3';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { RevocationReason } from '../../link/schema/revocation-reason.js';
import type {
  ChallengeUse,
  Inventory,
  InventoryFilter,
  InventoryRecord,
  TransactionHistory,
} from '../ports.js';
import { ChallengeSpender } from './challenge-spend.js';
import { CommitBatch } from './commit-batch.js';
import type { Db } from './database.js';
import {
  type CertificateRow,
  certificateFromRow,
  certificateRow,
  type PendingRow,
  pendingFromRow,
} from './rows.js';

type Row = CertificateRow<number>;

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

/** The issued-certificate inventory in SQLite. Serials are compared in lower-case hex. */
export class SqliteInventory implements Inventory {
  private readonly insert: Statement;
  private readonly selectBySerial: Statement<[string], Row>;
  private readonly selectByTransaction: Statement<[string], Row>;
  private readonly selectByRequester: Statement<[string], Row>;
  private readonly selectParked: Statement<[string], PendingRow<number>>;
  private readonly revoke: Statement;
  private readonly unrevoke: Statement;
  private readonly selectRevoked: Statement<[], Pick<Row, 'serial_hex' | 'revoked_at' | 'revocation_reason'>>;
  private readonly countAll: Statement<[], { n: number }>;
  private readonly countByStatus: Statement<[string], { n: number }>;
  /** One statement per filter shape, prepared on first use and kept. */
  private readonly listStatements = new Map<string, Statement>();

  /**
   * The certificate and the challenge it spends, in one transaction (issue 11 #3); the records
   * of one event-loop turn share one commit (commit-batch.ts).
   */
  private readonly records: CommitBatch<{ rec: InventoryRecord; spending?: ChallengeUse }>;

  constructor(private readonly db: Db) {
    const spender = new ChallengeSpender(db);
    this.records = new CommitBatch(db, ({ rec, spending }) => {
      if (spending) spender.spend(spending);
      this.insertRecord(rec);
    });
    this.insert = db.prepare(`INSERT INTO certificates
      (serial_hex, subject, sans, profile, requester, transaction_id, not_before, not_after, status,
       revoked_at, revocation_reason, thumbprint, der, request_hash)
      VALUES (@serial_hex, @subject, @sans, @profile, @requester, @transaction_id, @not_before, @not_after,
       @status, @revoked_at, @revocation_reason, @thumbprint, @der, @request_hash)`);
    this.selectBySerial = db.prepare('SELECT * FROM certificates WHERE serial_hex = ?');
    this.selectByTransaction = db.prepare(
      'SELECT * FROM certificates WHERE transaction_id = ? ORDER BY rowid DESC LIMIT 1',
    );
    this.selectParked = db.prepare('SELECT * FROM pending_requests WHERE transaction_id = ?');
    this.selectByRequester = db.prepare(
      'SELECT * FROM certificates WHERE requester = ? ORDER BY rowid DESC LIMIT 1',
    );
    this.revoke =
      db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
      WHERE serial_hex = ? AND status = 'valid'`);
    this.unrevoke =
      db.prepare(`UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL
      WHERE serial_hex = ? AND status = 'revoked'`);
    this.selectRevoked = db.prepare(`SELECT serial_hex, revoked_at, revocation_reason FROM certificates
      WHERE status = 'revoked' ORDER BY serial_hex`);
    this.countAll = db.prepare('SELECT COUNT(*) AS n FROM certificates');
    this.countByStatus = db.prepare('SELECT COUNT(*) AS n FROM certificates WHERE status = ?');
  }

  record(rec: InventoryRecord, spending?: ChallengeUse): Promise<void> {
    return this.records.write(spending ? { rec, spending } : { rec });
  }

  private insertRecord(rec: InventoryRecord): void {
    try {
      this.insert.run(toRow(rec));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new OutpostError(ErrorCodes.conflict, 'serial already recorded', {
          cause: e,
          detail: rec.serialHex,
        });
      }
      throw e;
    }
  }

  async bySerial(serialHex: string): Promise<InventoryRecord | undefined> {
    const row = this.selectBySerial.get(serialHex.toLowerCase());
    return row && fromRow(row);
  }

  async byTransactionId(transactionId: string): Promise<InventoryRecord | undefined> {
    const row = this.selectByTransaction.get(transactionId);
    return row && fromRow(row);
  }

  /** Two statements: in-process SQLite has no round trip to save (see the port). */
  async transactionHistory(transactionId: string): Promise<TransactionHistory> {
    const issued = this.selectByTransaction.get(transactionId);
    const parked = this.selectParked.get(transactionId);
    return {
      ...(issued ? { issued: fromRow(issued) } : {}),
      ...(parked ? { parked: pendingFromRow(parked, (ms) => new Date(ms)) } : {}),
    };
  }

  async byRequester(requester: string): Promise<InventoryRecord | undefined> {
    const row = this.selectByRequester.get(requester);
    return row && fromRow(row);
  }

  async list(filter: InventoryFilter): Promise<InventoryRecord[]> {
    const limit = Math.min(Math.max(filter.limit ?? DEFAULT_LIST_LIMIT, 0), MAX_LIST_LIMIT);
    const params: Array<string | number> = [];
    if (filter.status) params.push(filter.status);
    if (filter.subjectContains) params.push(filter.subjectContains.toLowerCase());
    params.push(limit, Math.max(filter.offset ?? 0, 0));
    return (this.listStatement(!!filter.status, !!filter.subjectContains).all(...params) as Row[]).map(
      fromRow,
    );
  }

  async count(filter?: Pick<InventoryFilter, 'status'>): Promise<number> {
    return (filter?.status ? this.countByStatus.get(filter.status) : this.countAll.get())!.n;
  }

  async markRevoked(serialHex: string, reason: RevocationReason, at: Date): Promise<void> {
    const serial = serialHex.toLowerCase();
    if (this.revoke.run(at.getTime(), reason, serial).changes === 1) return;
    if (!this.selectBySerial.get(serial)) {
      throw new OutpostError(ErrorCodes.notFound, 'unknown certificate serial', { detail: serial });
    }
    throw new OutpostError(ErrorCodes.conflict, 'certificate already revoked', { detail: serial });
  }

  async unmarkRevoked(serialHex: string): Promise<void> {
    this.unrevoke.run(serialHex.toLowerCase());
  }

  async revokedEntries(): Promise<Array<{ serialHex: string; revokedAt: Date; reason: RevocationReason }>> {
    return this.selectRevoked.all().map((r) => ({
      serialHex: r.serial_hex,
      revokedAt: new Date(r.revoked_at ?? 0),
      reason: (r.revocation_reason ?? 'unspecified') as RevocationReason,
    }));
  }

  /** Newest first (rowid order = insertion order), so the admin view shows recent issuances. */
  private listStatement(byStatus: boolean, bySubject: boolean): Statement {
    const key = `${byStatus}:${bySubject}`;
    let stmt = this.listStatements.get(key);
    if (!stmt) {
      const where = [byStatus ? 'status = ?' : '', bySubject ? 'instr(lower(subject), ?) > 0' : ''].filter(
        Boolean,
      );
      stmt = this.db.prepare(
        `SELECT * FROM certificates ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY rowid DESC LIMIT ? OFFSET ?`,
      );
      this.listStatements.set(key, stmt);
    }
    return stmt;
  }
}

const toRow = (rec: InventoryRecord): Row => certificateRow(rec, (d) => d.getTime());
const fromRow = (row: Row): InventoryRecord => certificateFromRow(row, (ms) => new Date(ms));
