import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCodes } from '../core/errors.js';
import { failureOutcome, unsupportedOutcome } from './job-outcome.js';
import type { CancelOutcome, JobJournal, UndeliveredResult } from './journal/job-journal.js';
import type { JobHandler, JobOutcome, LinkJob } from './ports.js';

/** Where the runner's messages go; each call is a no-op while the link is down (the journal keeps them). */
export interface JobOutbound {
  accepted(jobId: string): void;
  result(result: UndeliveredResult): void;
  cancelled(jobId: string, status: CancelOutcome): void;
}

export interface JobRunnerOptions {
  journal: JobJournal;
  outbound: JobOutbound;
  logger: Logger;
  concurrency: number;
  /** A job still running after this long is reported failed (retryable) and its late outcome ignored. */
  timeoutMs: number;
  newMessageId?: () => string;
}

/**
 * Takes jobs from the link: journal first, then `job.accepted`; on the cloud's `job.start` the handler
 * of its kind with at most `concurrency` running at once, then the journaled result, sent until acked.
 * On `job.cancel` a job not started yet is dropped for good. A duplicate delivery is re-acked and,
 * when finished, its stored result resent; it never runs twice.
 */
export class JobRunner {
  private readonly handlers = new Map<string, JobHandler>();
  private readonly queue: LinkJob[] = [];
  private readonly active = new Set<string>();
  private readonly queued = new Set<string>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly newMessageId: () => string;

  constructor(private readonly options: JobRunnerOptions) {
    this.newMessageId = options.newMessageId ?? randomUUID;
  }

  register(handler: JobHandler): void {
    if (this.handlers.has(handler.kind)) {
      throw new Error(`a handler for job kind ${handler.kind} is already registered`);
    }
    this.handlers.set(handler.kind, handler);
  }

  kinds(): string[] {
    return [...this.handlers.keys()];
  }

  /**
   * A `job` message arrived: journaled, then accepted; it waits for `job.start`. A job known already
   * (waiting, queued or running) is acked again and runs once; a finished one gets its result again.
   */
  deliver(job: LinkJob): void {
    const { journal, outbound } = this.options;
    const known = journal.receive(job);
    outbound.accepted(job.id);
    if (known === 'finished') {
      const result = journal.resultOf(job.id);
      if (result) outbound.result(result);
    }
  }

  /** `job.start`: the cloud recorded the job as ours. Anything but a journaled, unfinished job is ignored. */
  start(jobId: string): void {
    const { journal, logger } = this.options;
    const state = journal.stateOf(jobId);
    if (state !== 'accepted' && state !== 'running') {
      logger.debug({ jobId, state }, 'job.start for a job not waiting to run; ignored');
      return;
    }
    const job = journal.job(jobId);
    if (job) this.enqueue(job);
  }

  /**
   * `job.cancel`: a job not started yet (waiting, or queued behind others) is dropped for good and
   * never runs; a started one goes on and reports its result. Answered with what was found.
   */
  cancel(jobId: string): CancelOutcome {
    const status = this.options.journal.cancel(jobId);
    if (status === 'dropped' && this.queued.delete(jobId)) {
      const at = this.queue.findIndex((j) => j.id === jobId);
      if (at >= 0) this.queue.splice(at, 1);
    }
    this.options.outbound.cancelled(jobId, status);
    return status;
  }

  /**
   * After a restart: jobs interrupted while running run again (handlers are idempotent by job id).
   * Jobs that never started wait for the cloud's `job.start` after `hello`.
   */
  resume(): number {
    const jobs = this.options.journal.interrupted();
    for (const job of jobs) this.enqueue(job);
    return jobs.length;
  }

  /** After `welcome`: every journaled result the cloud has not acked goes out again. */
  resendUndelivered(): number {
    const results = this.options.journal.undelivered();
    for (const r of results) this.options.outbound.result(r);
    return results.length;
  }

  running(): number {
    return this.active.size;
  }

  pending(): number {
    return this.queue.length;
  }

  /** Stops taking queued jobs and waits for the running ones (shutdown); queued ones resume next start. */
  async stop(waitMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.active.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private enqueue(job: LinkJob): void {
    if (this.queued.has(job.id) || this.active.has(job.id)) return;
    this.queued.add(job.id);
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.options.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.queued.delete(job.id);
      this.active.add(job.id);
      void this.run(job).finally(() => {
        this.active.delete(job.id);
        if (this.active.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        this.pump();
      });
    }
  }

  private async run(job: LinkJob): Promise<void> {
    const { journal, logger } = this.options;
    const attempts = journal.start(job.id);
    if (attempts === 0) return; // cancelled or finished meanwhile
    const log = logger.child({ jobId: job.id, kind: job.kind });
    let outcome: JobOutcome;
    if (attempts > journal.maxAttempts) {
      // Started that often without finishing: it crashes the process. Fail it rather than loop.
      outcome = {
        ok: false,
        error: { code: ErrorCodes.internal, retryable: false, message: 'job interrupted too many times' },
      };
    } else {
      log.debug({ attempts }, 'job started');
      outcome = await this.execute(job, log);
    }
    const messageId = this.newMessageId();
    try {
      journal.finish(job.id, outcome, messageId);
    } catch (e) {
      // The journal closed under a job still running at shutdown: it resumes at the next start.
      log.warn({ err: e }, 'job outcome not journaled; the job will run again');
      return;
    }
    if (outcome.ok) log.info({ attempts }, 'job done');
    else log.warn({ attempts, code: outcome.error.code }, 'job failed');
    this.options.outbound.result({ jobId: job.id, messageId, outcome });
  }

  private async execute(job: LinkJob, log: Logger): Promise<JobOutcome> {
    const handler = this.handlers.get(job.kind);
    if (!handler) return unsupportedOutcome(job.kind);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<JobOutcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            error: { code: ErrorCodes.unavailable, retryable: true, message: 'job timed out' },
          }),
        this.options.timeoutMs,
      );
    });
    const work = (async (): Promise<JobOutcome> => {
      try {
        return { ok: true, result: (await handler.handle(job)) ?? null };
      } catch (e) {
        log.warn({ err: e }, 'job handler threw');
        return failureOutcome(e);
      }
    })();
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
