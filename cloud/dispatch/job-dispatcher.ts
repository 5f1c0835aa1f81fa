import type { Logger } from 'pino';
import { ErrorCodes } from '../../core/errors.js';
import {
  type JobCancelledStatus,
  type JobCancelReason,
  type JobKind,
  jobKinds,
  type WireError,
} from '../../link/schema/index.js';
import type { ApplianceConnection, Connections } from '../link/connections.js';
import type { AcceptOutcome, FinishOutcome, JobRecord, Jobs, JobTarget } from '../store/jobs.js';

export interface JobDispatcherOptions {
  jobs: Jobs;
  connections: Connections;
  clock: () => Date;
  logger: Logger;
  /**
   * How long the jobs offered to an appliance that disconnected stay reserved for it before they are
   * offered to another appliance of the role (and site). An appliance runs a job only on `job.start`,
   * so moving an offer never runs a job twice — the first appliance, if it journaled the job, is sent
   * `job.cancel` when it comes back; the grace only spares a job the move when the link merely blinked
   * (the appliance then lists it in `hello.pendingResults` and gets `job.start`). 0 = reassign at once.
   */
  reassignGraceMs: number;
}

export type ResultOutcome = FinishOutcome;

/**
 * Offers jobs to appliances one at a time and records what comes back. Rules:
 * - a pending job is offered to one connected appliance (the eligible one — of the role, of the site
 *   when the job names one — with the fewest jobs in flight); it is offered again to the same
 *   appliance on every reconnect until it answers `job.accepted`;
 * - `job.accepted` (or the job listed in `hello.pendingResults`) is answered `job.start` when the job
 *   is recorded as that appliance's, `job.cancel` when another appliance has it or finished it; an
 *   appliance runs a job only on `job.start`, so no job runs on two appliances;
 * - when the appliance offered a job disconnects without accepting, the offer is withdrawn after the
 *   grace and the job goes to any eligible appliance (the same one if it comes back first);
 * - an accepted job belongs to its appliance for good: it resends the result (journaled) after
 *   reconnecting, and a running job it no longer lists in `hello.pendingResults` is offered to it again;
 * - the first result of a job is stored, later ones are acked and ignored.
 */
export class JobDispatcher {
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly o: JobDispatcherOptions) {}

  /** After a restart every connection is gone: start the grace for appliances that held offers. */
  start(): void {
    for (const applianceId of this.o.jobs.appliancesWithOffers()) this.onDisconnect(applianceId);
  }

  close(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  submit(kind: JobKind, target: JobTarget, payload: unknown): JobRecord {
    const job = this.o.jobs.create(kind, target, payload, this.o.clock());
    this.dispatch(job);
    return job;
  }

  onHello(connection: ApplianceConnection, pendingResults: readonly string[]): void {
    const id = connection.applianceId;
    this.cancelGrace(id);
    const pending = new Set(pendingResults);
    for (const jobId of pending) this.take(connection, jobId);
    for (const job of this.o.jobs.offeredTo(id)) this.send(connection, job);
    // Running here but not in its journal any more (data directory lost?): offer it again; an appliance
    // that does have it dedups by job id and just resends job.accepted.
    for (const job of this.o.jobs.runningOn(id)) if (!pending.has(job.id)) this.send(connection, job);
    this.dispatchUnassigned();
  }

  onDisconnect(applianceId: string): void {
    this.cancelGrace(applianceId);
    if (this.o.reassignGraceMs <= 0) return this.withdraw(applianceId);
    const timer = setTimeout(() => {
      this.graceTimers.delete(applianceId);
      if (!this.o.connections.isConnected(applianceId)) this.withdraw(applianceId);
    }, this.o.reassignGraceMs);
    timer.unref();
    this.graceTimers.set(applianceId, timer);
  }

  /** `job.accepted`: answered `job.start` or `job.cancel` (see take). */
  onAccepted(connection: ApplianceConnection, jobId: string): AcceptOutcome {
    return this.take(connection, jobId);
  }

  /** `job.cancelled`: the appliance's answer to a `job.cancel`; nothing to store (its journal holds it). */
  onCancelled(connection: ApplianceConnection, jobId: string, status: JobCancelledStatus): void {
    const fields = { jobId, applianceId: connection.applianceId, status };
    if (status === 'started') {
      // Only an appliance that lost its journal, or ran a job without job.start, gets here: the first
      // result stored wins and later ones are acked and ignored.
      this.o.logger.warn(fields, 'a cancelled job had started on the appliance; the first result is kept');
    } else {
      this.o.logger.info(fields, 'job offer cancelled on the appliance');
    }
  }

  onResult(
    connection: ApplianceConnection,
    jobId: string,
    outcome: { status: 'done'; result: unknown } | { status: 'failed'; error: WireError },
  ): ResultOutcome {
    const job = this.o.jobs.get(jobId);
    if (!job || !this.eligible(job, connection)) return 'unknown';
    if (job.acceptedBy !== null && job.acceptedBy !== connection.applianceId) {
      this.o.logger.warn(
        { jobId, acceptedBy: job.acceptedBy, from: connection.applianceId },
        'result from a second appliance',
      );
    }
    return this.o.jobs.finish(jobId, connection.applianceId, this.checkResult(job, outcome), this.o.clock());
  }

  /** A `done` result that does not match its kind's schema is recorded as a failure, not stored as is. */
  private checkResult(
    job: JobRecord,
    outcome: { status: 'done'; result: unknown } | { status: 'failed'; error: WireError },
  ): { status: 'done'; result: unknown } | { status: 'failed'; error: WireError } {
    if (outcome.status === 'failed') return outcome;
    const parsed = jobKinds[job.kind].result.safeParse(outcome.result);
    if (parsed.success) return { status: 'done', result: parsed.data };
    const issue = parsed.error.issues[0];
    return {
      status: 'failed',
      error: {
        code: ErrorCodes.internal,
        retryable: false,
        message:
          `the appliance returned an invalid result: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
      },
    };
  }

  /**
   * The appliance journaled `jobId` (`job.accepted`, or listed in `hello.pendingResults`): the job
   * becomes its own unless another appliance has it, and the appliance is told which: `job.start` (run
   * it; again for a job already its own, whose `job.start` may have been lost), or `job.cancel` (do
   * not: another appliance took it after this one left, or finished it, or there is no such job).
   */
  private take(connection: ApplianceConnection, jobId: string): AcceptOutcome {
    const job = this.o.jobs.get(jobId);
    if (!job || !this.eligible(job, connection)) {
      this.cancel(connection, jobId, 'unknown');
      return 'unknown';
    }
    const outcome = this.o.jobs.accept(jobId, connection.applianceId, this.o.clock());
    if (outcome === 'accepted' || outcome === 'again') connection.send({ type: 'job.start', jobId });
    else if (outcome === 'taken') this.cancel(connection, jobId, 'reassigned');
    else if (outcome === 'finished' && job.acceptedBy !== connection.applianceId) {
      this.cancel(connection, jobId, 'finished');
    }
    return outcome;
  }

  private cancel(connection: ApplianceConnection, jobId: string, reason: JobCancelReason): void {
    this.o.logger.info({ jobId, applianceId: connection.applianceId, reason }, 'job.cancel sent');
    connection.send({ type: 'job.cancel', jobId, reason });
  }

  private withdraw(applianceId: string): void {
    const count = this.o.jobs.withdrawOffers(applianceId, this.o.clock());
    if (count > 0) {
      this.o.logger.info(
        { applianceId, count },
        'offers withdrawn from a disconnected appliance (cancelled there if it comes back with them)',
      );
    }
    this.dispatchUnassigned();
  }

  private cancelGrace(applianceId: string): void {
    const timer = this.graceTimers.get(applianceId);
    if (timer) clearTimeout(timer);
    this.graceTimers.delete(applianceId);
  }

  private dispatchUnassigned(): void {
    if (this.o.connections.all().length === 0) return;
    for (const job of this.o.jobs.unassigned()) this.dispatch(job);
  }

  private dispatch(job: JobRecord): void {
    let best: { connection: ApplianceConnection; load: number } | undefined;
    for (const connection of this.o.connections.all()) {
      if (!this.eligible(job, connection)) continue;
      const load = this.o.jobs.inFlight(connection.applianceId);
      if (!best || load < best.load) best = { connection, load };
    }
    if (!best) return;
    this.o.jobs.offer(job.id, best.connection.applianceId, this.o.clock());
    this.send(best.connection, job);
  }

  private eligible(job: JobRecord, connection: ApplianceConnection): boolean {
    if (!connection.roles.has(jobKinds[job.kind].role)) return false;
    const target = job.target;
    if ('applianceId' in target) return target.applianceId === connection.applianceId;
    return (
      connection.roles.has(target.role) && (target.site === undefined || target.site === connection.site)
    );
  }

  private send(connection: ApplianceConnection, job: JobRecord): void {
    connection.send({
      type: 'job',
      job: { id: job.id, kind: job.kind, payload: job.payload, createdAt: job.createdAt.toISOString() },
    });
  }
}
