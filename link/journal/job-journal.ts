import type { JobCheckpoints, JobOutcome, LinkJob } from '../ports.js';
import type { JobCancelledStatus } from '../schema/appliance-messages.js';
import type { JournalDb } from './journal-db.js';

/** What the journal already knew about a job the cloud (re)delivered. */
export type ReceiveOutcome = 'new' | 'pending' | 'finished';

/** What a `job.cancel` found (the `job.cancelled` status). */
export type CancelOutcome = JobCancelledStatus;

export interface UndeliveredResult {
  jobId: string;
  messageId: string;
  outcome: JobOutcome;
}

export interface OutboxEntry {
  messageId: string;
  type: string;
  body: unknown;
}

export interface JournalOptions {
  clock?: () => number;
  /** Events waiting for an ack beyond this many drop the oldest first (a cloud away for days). */
  maxOutbox?: number;
  /** A job started this many times without finishing (crash loop) fails instead of running again. */
  maxAttempts?: number;
}

interface JobRow {
  id: string;
  kind: string;
  payload: string;
  state: JobState;
  attempts: number;
}

/**
 * accepted (journaled, waiting for the cloud's `job.start`) → running (started at least once) → done
 * (result kept until acked) → delivered; or accepted → cancelled (the cloud's `job.cancel`: never runs).
 */
export type JobState = 'accepted' | 'running' | 'done' | 'delivered' | 'cancelled';

/**
 * The durable job journal: accepted → running → done → delivered, or accepted → cancelled. A job is
 * written before it is acknowledged to the cloud, so a crash can only lose a job the cloud will deliver
 * again; it starts only once the cloud confirms it is ours (`job.start`), so a job the cloud gave to
 * another appliance meanwhile is cancelled here, never run twice; its result stays until the cloud
 * acks it, so a crash can only resend a result, never lose it. Job ids make duplicates harmless
 * (DESIGN, "Delivery").
 */
export class JobJournal implements JobCheckpoints {
  private readonly clock: () => number;
  private readonly maxOutbox: number;
  readonly maxAttempts: number;
  droppedEvents = 0;

  constructor(
    private readonly db: JournalDb,
    options: JournalOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxOutbox = options.maxOutbox ?? 10_000;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /**
   * Journals a delivered job unless it is known; tells which case it was. A cancelled job offered
   * again is accepted again: it never started, and the cloud decides once more (`job.start` or not).
   */
  receive(job: LinkJob): ReceiveOutcome {
    return this.db
      .transaction((): ReceiveOutcome => {
        const row = this.db.prepare('SELECT state FROM jobs WHERE id = ?').get(job.id) as
          | { state: JobState }
          | undefined;
        if (row?.state === 'cancelled') {
          this.db.prepare("UPDATE jobs SET state = 'accepted', cancelled_at = NULL WHERE id = ?").run(job.id);
          return 'pending';
        }
        if (row) return row.state === 'accepted' || row.state === 'running' ? 'pending' : 'finished';
        this.db
          .prepare("INSERT INTO jobs (id, kind, payload, state, received_at) VALUES (?, ?, ?, 'accepted', ?)")
          .run(job.id, job.kind, JSON.stringify(job.payload ?? null), this.clock());
        return 'new';
      })
      .immediate();
  }

  /** Marks a job running and returns how many times it has now been started. */
  start(jobId: string): number {
    const row = this.db
      .prepare(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = ? AND state IN ('accepted', 'running') RETURNING attempts",
      )
      .get(jobId) as { attempts: number } | undefined;
    return row?.attempts ?? 0;
  }

  /** Stores the outcome under the result message id that every resend of it will carry. */
  finish(jobId: string, outcome: JobOutcome, messageId: string): void {
    this.db
      .prepare(
        "UPDATE jobs SET state = 'done', outcome = ?, result_message_id = ?, finished_at = ? WHERE id = ? AND state IN ('accepted', 'running')",
      )
      .run(JSON.stringify(outcome), messageId, this.clock(), jobId);
    this.db.prepare('DELETE FROM checkpoints WHERE job_id = ?').run(jobId);
  }

  /**
   * Jobs interrupted while running, oldest first: they resume after a restart. Accepted ones that never
   * started wait for the cloud's word (`job.start` or `job.cancel`) after the next `hello`.
   */
  interrupted(): Array<LinkJob & { attempts: number }> {
    const rows = this.db
      .prepare(
        "SELECT id, kind, payload, attempts FROM jobs WHERE state = 'running' ORDER BY received_at, rowid",
      )
      .all() as JobRow[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      payload: JSON.parse(r.payload),
      attempts: r.attempts,
    }));
  }

  /** The journaled job (to start it on `job.start`). */
  job(jobId: string): LinkJob | undefined {
    const row = this.db.prepare('SELECT id, kind, payload FROM jobs WHERE id = ?').get(jobId) as
      | Pick<JobRow, 'id' | 'kind' | 'payload'>
      | undefined;
    return row ? { id: row.id, kind: row.kind, payload: JSON.parse(row.payload) } : undefined;
  }

  /**
   * `job.cancel`: a job that never started is cancelled for good (it is no longer pending, resumes
   * never, and `start` refuses it); one that started already is left alone (its result goes out).
   */
  cancel(jobId: string): CancelOutcome {
    return this.db
      .transaction((): CancelOutcome => {
        const state = this.stateOf(jobId);
        if (state === undefined) return 'unknown';
        if (state !== 'accepted' && state !== 'cancelled') return 'started';
        this.db
          .prepare(
            "UPDATE jobs SET state = 'cancelled', cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?",
          )
          .run(this.clock(), jobId);
        this.db.prepare('DELETE FROM checkpoints WHERE job_id = ?').run(jobId);
        return 'dropped';
      })
      .immediate();
  }

  /** Finished results the cloud has not acked yet, oldest first. */
  undelivered(): UndeliveredResult[] {
    const rows = this.db
      .prepare(
        "SELECT id, result_message_id AS m, outcome FROM jobs WHERE state = 'done' ORDER BY finished_at, rowid",
      )
      .all() as Array<{ id: string; m: string; outcome: string }>;
    return rows.map((r) => ({ jobId: r.id, messageId: r.m, outcome: JSON.parse(r.outcome) }));
  }

  /** The finished result of a job (done or delivered), to answer a duplicate delivery. */
  resultOf(jobId: string): UndeliveredResult | undefined {
    const row = this.db
      .prepare(
        "SELECT result_message_id AS m, outcome FROM jobs WHERE id = ? AND state IN ('done', 'delivered')",
      )
      .get(jobId) as { m: string; outcome: string } | undefined;
    return row ? { jobId, messageId: row.m, outcome: JSON.parse(row.outcome) } : undefined;
  }

  stateOf(jobId: string): JobState | undefined {
    const row = this.db.prepare('SELECT state FROM jobs WHERE id = ?').get(jobId) as
      | { state: JobState }
      | undefined;
    return row?.state;
  }

  /** The cloud acked message `messageId`: a job result becomes delivered, an event leaves the outbox. */
  ack(messageId: string): 'result' | 'event' | 'unknown' {
    const job = this.db
      .prepare(
        "UPDATE jobs SET state = 'delivered', delivered_at = ? WHERE result_message_id = ? AND state = 'done'",
      )
      .run(this.clock(), messageId);
    if (job.changes > 0) return 'result';
    const event = this.db.prepare('DELETE FROM outbox WHERE message_id = ?').run(messageId);
    return event.changes > 0 ? 'event' : 'unknown';
  }

  /** The cloud acked the result of `jobId` (ack.jobId): it is delivered whatever message carried it. */
  ackJob(jobId: string): boolean {
    return (
      this.db
        .prepare("UPDATE jobs SET state = 'delivered', delivered_at = ? WHERE id = ? AND state = 'done'")
        .run(this.clock(), jobId).changes > 0
    );
  }

  /** A resent result carries a new message id (link/schema/ordering.ts rule 5); an ack may name it. */
  setResultMessageId(jobId: string, messageId: string): void {
    this.db
      .prepare("UPDATE jobs SET result_message_id = ? WHERE id = ? AND state = 'done'")
      .run(messageId, jobId);
  }

  /** Jobs this appliance holds whose result the cloud has not acked, unfinished ones included (`hello`). */
  pendingJobIds(max: number): string[] {
    const rows = this.db
      .prepare(
        "SELECT id FROM jobs WHERE state IN ('accepted', 'running', 'done') ORDER BY received_at, rowid LIMIT ?",
      )
      .all(max) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  get(jobId: string): Buffer | undefined {
    const row = this.db.prepare('SELECT data FROM checkpoints WHERE job_id = ?').get(jobId) as
      | { data: Buffer }
      | undefined;
    return row?.data;
  }

  put(jobId: string, data: Buffer): void {
    this.db
      .prepare(
        'INSERT INTO checkpoints (job_id, data, updated_at) VALUES (?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at',
      )
      .run(jobId, data, this.clock());
  }

  /** Keeps a message (an event) until the cloud acks it. */
  enqueue(entry: OutboxEntry): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR IGNORE INTO outbox (message_id, type, body, created_at) VALUES (?, ?, ?, ?)')
        .run(entry.messageId, entry.type, JSON.stringify(entry.body), this.clock());
      const over = this.countOutbox() - this.maxOutbox;
      if (over > 0) {
        this.db
          .prepare(
            'DELETE FROM outbox WHERE message_id IN (SELECT message_id FROM outbox ORDER BY created_at, rowid LIMIT ?)',
          )
          .run(over);
        this.droppedEvents += over;
      }
    })();
  }

  outbox(): OutboxEntry[] {
    const rows = this.db
      .prepare('SELECT message_id AS m, type, body FROM outbox ORDER BY created_at, rowid')
      .all() as Array<{ m: string; type: string; body: string }>;
    return rows.map((r) => ({ messageId: r.m, type: r.type, body: JSON.parse(r.body) }));
  }

  countOutbox(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  getState(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM link_state WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setState(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO link_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  /**
   * Forgets delivered and cancelled jobs older than `maxAgeMs`. They are kept that long so a late
   * duplicate delivery is recognised and re-acked instead of run again.
   */
  prune(maxAgeMs: number): number {
    const before = this.clock() - maxAgeMs;
    return this.db
      .prepare(
        "DELETE FROM jobs WHERE (state = 'delivered' AND delivered_at < ?) OR (state = 'cancelled' AND cancelled_at < ?)",
      )
      .run(before, before).changes;
  }

  counts(): Record<JobState, number> {
    const out = { accepted: 0, running: 0, done: 0, delivered: 0, cancelled: 0 };
    const rows = this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Array<{
      state: JobState;
      n: number;
    }>;
    for (const r of rows) out[r.state] = r.n;
    return out;
  }
}
