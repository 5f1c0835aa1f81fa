import { randomUUID } from 'node:crypto';
import type { ApplianceRole, JobKind, WireError } from '../../link/schema/index.js';
import type { CloudDb } from './cloud-db.js';

export type JobStatus = 'pending' | 'running' | 'done' | 'failed';
/** One appliance, or any appliance of a role (of one site when `site` is set). */
export type JobTarget = { applianceId: string } | { role: ApplianceRole; site?: string };

export interface JobRecord {
  id: string;
  kind: JobKind;
  target: JobTarget;
  payload: unknown;
  status: JobStatus;
  offeredTo: string | null;
  acceptedBy: string | null;
  result: unknown;
  error: WireError | null;
  createdAt: Date;
  finishedAt: Date | null;
}

interface JobRow {
  id: string;
  kind: string;
  target_appliance: string | null;
  target_role: string | null;
  target_site: string | null;
  payload: string;
  status: JobStatus;
  offered_to: string | null;
  accepted_by: string | null;
  result: string | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
}

function toRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    kind: r.kind as JobKind,
    target:
      r.target_appliance !== null
        ? { applianceId: r.target_appliance }
        : {
            role: r.target_role as ApplianceRole,
            ...(r.target_site !== null ? { site: r.target_site } : {}),
          },
    payload: JSON.parse(r.payload),
    status: r.status,
    offeredTo: r.offered_to,
    acceptedBy: r.accepted_by,
    result: r.result === null ? undefined : JSON.parse(r.result),
    error: r.error === null ? null : (JSON.parse(r.error) as WireError),
    createdAt: new Date(r.created_at),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at),
  };
}

/** What an appliance reported for a job. */
export type JobOutcomeInput = { status: 'done'; result: unknown } | { status: 'failed'; error: WireError };

export type AcceptOutcome = 'accepted' | 'again' | 'taken' | 'finished' | 'unknown';
export type FinishOutcome = 'stored' | 'duplicate' | 'unknown';

/**
 * The job table. State machine: pending (offered_to: who it is offered to now, or null) →
 * running (accepted_by set, never changes) → done | failed (first result wins).
 */
export class Jobs {
  // Prepared once: preparing per call was a third of the dispatcher's CPU under load.
  private readonly q;
  // Transaction wrappers made once (better-sqlite3 builds a function per db.transaction call).
  private readonly acceptTx: (id: string, applianceId: string, now: Date) => AcceptOutcome;
  private readonly finishTx: (
    id: string,
    applianceId: string,
    o: JobOutcomeInput,
    now: Date,
  ) => FinishOutcome;

  constructor(db: CloudDb) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      insert: p(
        `INSERT INTO jobs (id, kind, target_appliance, target_role, target_site, payload, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ),
      get: p('SELECT * FROM jobs WHERE id = ?'),
      list: p('SELECT * FROM jobs WHERE (? IS NULL OR status = ?) ORDER BY created_at, id LIMIT ? OFFSET ?'),
      counts: p('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status'),
      unassigned: p(
        "SELECT * FROM jobs WHERE status = 'pending' AND offered_to IS NULL ORDER BY created_at, id",
      ),
      offeredTo: p("SELECT * FROM jobs WHERE status = 'pending' AND offered_to = ? ORDER BY created_at, id"),
      withOffers: p(
        "SELECT DISTINCT offered_to AS a FROM jobs WHERE status = 'pending' AND offered_to IS NOT NULL",
      ),
      runningOn: p("SELECT * FROM jobs WHERE status = 'running' AND accepted_by = ? ORDER BY created_at, id"),
      inFlight: p("SELECT COUNT(*) AS n FROM jobs WHERE offered_to = ? AND status IN ('pending', 'running')"),
      offer: p("UPDATE jobs SET offered_to = ?, updated_at = ? WHERE id = ? AND status = 'pending'"),
      withdraw: p(
        "UPDATE jobs SET offered_to = NULL, updated_at = ? WHERE status = 'pending' AND offered_to = ?",
      ),
      accept: p(
        "UPDATE jobs SET status = 'running', offered_to = ?, accepted_by = ?, updated_at = ? WHERE id = ?",
      ),
      finish: p(
        `UPDATE jobs SET status = ?, result = ?, error = ?, accepted_by = COALESCE(accepted_by, ?),
           offered_to = COALESCE(accepted_by, ?), updated_at = ?, finished_at = ? WHERE id = ?`,
      ),
    };
    this.acceptTx = db.transaction((id: string, applianceId: string, now: Date) =>
      this.acceptUnlocked(id, applianceId, now),
    );
    this.finishTx = db.transaction((id: string, applianceId: string, o: JobOutcomeInput, now: Date) =>
      this.finishUnlocked(id, applianceId, o, now),
    );
  }

  create(kind: JobKind, target: JobTarget, payload: unknown, now: Date): JobRecord {
    const id = randomUUID();
    this.q.insert.run(
      id,
      kind,
      'applianceId' in target ? target.applianceId : null,
      'role' in target ? target.role : null,
      'role' in target ? (target.site ?? null) : null,
      JSON.stringify(payload ?? null),
      now.getTime(),
      now.getTime(),
    );
    return this.get(id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.q.get.get(id) as JobRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(options: { status?: JobStatus; limit: number; offset: number }): JobRecord[] {
    const status = options.status ?? null;
    return (this.q.list.all(status, status, options.limit, options.offset) as JobRow[]).map(toRecord);
  }

  countByStatus(): Record<JobStatus, number> {
    const counts: Record<JobStatus, number> = { pending: 0, running: 0, done: 0, failed: 0 };
    for (const row of this.q.counts.all() as Array<{ status: JobStatus; n: number }>)
      counts[row.status] = row.n;
    return counts;
  }

  /** Pending jobs offered to nobody, oldest first. */
  unassigned(): JobRecord[] {
    return (this.q.unassigned.all() as JobRow[]).map(toRecord);
  }

  /** Pending jobs currently offered to `applianceId`. */
  offeredTo(applianceId: string): JobRecord[] {
    return (this.q.offeredTo.all(applianceId) as JobRow[]).map(toRecord);
  }

  /** Appliances that hold offers (for the start-up reassignment timers). */
  appliancesWithOffers(): string[] {
    return (this.q.withOffers.all() as Array<{ a: string }>).map((r) => r.a);
  }

  runningOn(applianceId: string): JobRecord[] {
    return (this.q.runningOn.all(applianceId) as JobRow[]).map(toRecord);
  }

  /** Offered or running on `applianceId`: the load used to spread jobs over a role's appliances. */
  inFlight(applianceId: string): number {
    return (this.q.inFlight.get(applianceId) as { n: number }).n;
  }

  offer(id: string, applianceId: string, now: Date): void {
    this.q.offer.run(applianceId, now.getTime(), id);
  }

  /** Takes back every offer `applianceId` did not accept; returns how many. */
  withdrawOffers(applianceId: string, now: Date): number {
    return this.q.withdraw.run(now.getTime(), applianceId).changes;
  }

  /** `job.accepted` (or a job listed in `hello.pendingResults`) from `applianceId`. */
  accept(id: string, applianceId: string, now: Date): AcceptOutcome {
    return this.acceptTx(id, applianceId, now);
  }

  private acceptUnlocked(id: string, applianceId: string, now: Date): AcceptOutcome {
    const job = this.get(id);
    if (!job) return 'unknown';
    if (job.status === 'done' || job.status === 'failed') return 'finished';
    if (job.status === 'running') return job.acceptedBy === applianceId ? 'again' : 'taken';
    this.q.accept.run(applianceId, applianceId, now.getTime(), id);
    return 'accepted';
  }

  /** Stores the first result of a job; later ones are duplicates. */
  finish(id: string, applianceId: string, outcome: JobOutcomeInput, now: Date): FinishOutcome {
    return this.finishTx(id, applianceId, outcome, now);
  }

  private finishUnlocked(
    id: string,
    applianceId: string,
    outcome: JobOutcomeInput,
    now: Date,
  ): FinishOutcome {
    const job = this.get(id);
    if (!job) return 'unknown';
    if (job.status === 'done' || job.status === 'failed') return 'duplicate';
    this.q.finish.run(
      outcome.status,
      outcome.status === 'done' ? JSON.stringify(outcome.result ?? null) : null,
      outcome.status === 'failed' ? JSON.stringify(outcome.error) : null,
      applianceId,
      applianceId,
      now.getTime(),
      now.getTime(),
      id,
    );
    return 'stored';
  }
}
