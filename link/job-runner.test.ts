import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { JobRunner } from './job-runner.js';
import type { UndeliveredResult } from './journal/job-journal.js';
import { JobJournal } from './journal/job-journal.js';
import { type JournalDb, openJournalDb } from './journal/journal-db.js';
import type { JobHandler, LinkJob } from './ports.js';

const logger = pino({ level: 'silent' });

/** A handler whose jobs finish when the test says so, counting how often each ran. */
function gatedHandler(kind: string) {
  const gates = new Map<string, (v: unknown) => void>();
  const runs = new Map<string, number>();
  const handler: JobHandler = {
    kind,
    handle: (job) =>
      new Promise((resolve) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        gates.set(job.id, resolve);
      }),
  };
  return { handler, gates, runs };
}

const flush = () => new Promise((r) => setImmediate(r));

let db: JournalDb;
let journal: JobJournal;
let sent: Array<
  | { type: 'accepted'; jobId: string }
  | ({ type: 'result' } & UndeliveredResult)
  | { type: 'cancelled'; jobId: string; status: string }
>;
let ids: number;

function runner(concurrency = 2, timeoutMs = 60_000) {
  return new JobRunner({
    journal,
    logger,
    concurrency,
    timeoutMs,
    newMessageId: () => `m${++ids}`,
    outbound: {
      accepted: (jobId) => sent.push({ type: 'accepted', jobId }),
      result: (r) => sent.push({ type: 'result', ...r }),
      cancelled: (jobId, status) => sent.push({ type: 'cancelled', jobId, status }),
    },
  });
}

/** The cloud offers the job and, once accepted, confirms it (`job` then `job.start`). */
function offer(r: JobRunner, j: LinkJob): void {
  r.deliver(j);
  r.start(j.id);
}

const job = (id: string, kind = 'k'): LinkJob => ({ id, kind, payload: { n: id } });
const results = () => sent.filter((s) => s.type === 'result');

beforeEach(() => {
  db = openJournalDb(':memory:');
  journal = new JobJournal(db);
  sent = [];
  ids = 0;
});
afterEach(() => db.close());

describe('JobRunner', () => {
  it('journals before acking, runs once on job.start, and reports the result', async () => {
    const r = runner();
    let runs = 0;
    r.register({
      kind: 'k',
      handle: async (j) => {
        runs++;
        expect(journal.stateOf(j.id)).toBe('running');
        return { echoed: j.payload };
      },
    });
    r.deliver(job('a'));
    expect(sent).toEqual([{ type: 'accepted', jobId: 'a' }]);
    expect(journal.stateOf('a')).toBe('accepted');
    await flush();
    expect(runs).toBe(0);
    r.start('a');
    r.start('a');
    await flush();
    expect(runs).toBe(1);
    expect(results()).toEqual([
      { type: 'result', jobId: 'a', messageId: 'm1', outcome: { ok: true, result: { echoed: { n: 'a' } } } },
    ]);
    expect(journal.stateOf('a')).toBe('done');
  });

  it('re-acks a duplicate of a running job without running it again', async () => {
    const r = runner();
    const g = gatedHandler('k');
    r.register(g.handler);
    offer(r, job('a'));
    await flush();
    offer(r, job('a'));
    await flush();
    expect(sent.filter((s) => s.type === 'accepted')).toHaveLength(2);
    g.gates.get('a')!('x');
    await flush();
    expect(g.runs.get('a')).toBe(1);
    expect(results()).toHaveLength(1);
  });

  it('answers a duplicate of a finished job with the stored result, same message id', async () => {
    const r = runner();
    let runs = 0;
    r.register({ kind: 'k', handle: async () => ++runs });
    offer(r, job('a'));
    await flush();
    offer(r, job('a'));
    await flush();
    expect(runs).toBe(1);
    const [first, second] = results();
    expect(second).toEqual(first);
  });

  it.each([
    [
      'an OutpostError',
      new OutpostError(ErrorCodes.conflict, 'already revoked'),
      'OUTPOST_ERR_CONFLICT',
      false,
      'already revoked',
    ],
    [
      'an unavailable dependency',
      new OutpostError(ErrorCodes.unavailable, 'CA unreachable'),
      'OUTPOST_ERR_UNAVAILABLE',
      true,
      'CA unreachable',
    ],
    [
      'a wire error object',
      { code: 'OUTPOST_ERR_BAD_REQUEST', retryable: false, message: 'bad key size' },
      'OUTPOST_ERR_BAD_REQUEST',
      false,
      'bad key size',
    ],
    [
      'a plain Error (message not leaked)',
      new Error('/secret/path exploded'),
      'OUTPOST_ERR_INTERNAL',
      false,
      'internal error',
    ],
  ])('maps %s to a failed result', async (_name, thrown, code, retryable, message) => {
    const r = runner();
    r.register({ kind: 'k', handle: async () => Promise.reject(thrown) });
    offer(r, job('a'));
    await flush();
    expect(results()[0]).toMatchObject({ outcome: { ok: false, error: { code, retryable, message } } });
  });

  it('fails a kind with no handler as OUTPOST_ERR_UNSUPPORTED', async () => {
    const r = runner();
    offer(r, job('a', 'session.revoke'));
    await flush();
    expect(results()[0]).toMatchObject({
      outcome: { ok: false, error: { code: 'OUTPOST_ERR_UNSUPPORTED', retryable: false } },
    });
  });

  it('runs at most `concurrency` jobs at once, the rest in arrival order', async () => {
    const r = runner(2);
    const g = gatedHandler('k');
    r.register(g.handler);
    for (const id of ['a', 'b', 'c', 'd']) offer(r, job(id));
    await flush();
    expect([...g.runs.keys()]).toEqual(['a', 'b']);
    expect(r.running()).toBe(2);
    expect(r.pending()).toBe(2);
    g.gates.get('b')!(1);
    await flush();
    expect([...g.runs.keys()]).toEqual(['a', 'b', 'c']);
    g.gates.get('a')!(1);
    g.gates.get('c')!(1);
    await flush();
    g.gates.get('d')!(1);
    await flush();
    expect(results().map((s) => s.jobId)).toEqual(['b', 'a', 'c', 'd']);
  });

  it('reports a job that outlives its time limit as retryable and ignores its late outcome', async () => {
    const r = runner(1, 20);
    const g = gatedHandler('k');
    r.register(g.handler);
    offer(r, job('slow'));
    await new Promise((res) => setTimeout(res, 60));
    expect(results()[0]).toMatchObject({
      outcome: { ok: false, error: { code: 'OUTPOST_ERR_UNAVAILABLE', retryable: true } },
    });
    g.gates.get('slow')!('late');
    await flush();
    expect(results()).toHaveLength(1);
    expect(journal.resultOf('slow')?.outcome.ok).toBe(false);
  });

  it('resumes interrupted jobs after a restart, resends unacked results; waiting ones wait for job.start', async () => {
    journal.receive(job('was-running'));
    journal.start('was-running');
    journal.receive(job('was-waiting'));
    journal.receive(job('was-done'));
    journal.finish('was-done', { ok: true, result: 1 }, 'm-old');
    const r = runner();
    const seen: string[] = [];
    r.register({ kind: 'k', handle: async (j) => seen.push(j.id) });
    expect(r.resendUndelivered()).toBe(1);
    expect(r.resume()).toBe(1);
    await flush();
    expect(seen).toEqual(['was-running']);
    r.start('was-waiting');
    r.start('was-done');
    await flush();
    expect(seen).toEqual(['was-running', 'was-waiting']);
    expect(results().map((s) => s.jobId)).toEqual(['was-done', 'was-running', 'was-waiting']);
  });

  it('job.cancel drops a waiting or queued job for good; a started one runs on and reports', async () => {
    const r = runner(1);
    const g = gatedHandler('k');
    r.register(g.handler);
    r.deliver(job('waiting'));
    offer(r, job('running'));
    offer(r, job('queued'));
    await flush();
    expect([...g.runs.keys()]).toEqual(['running']);
    expect(r.pending()).toBe(1);
    expect(r.cancel('waiting')).toBe('dropped');
    expect(r.cancel('queued')).toBe('dropped');
    expect(r.cancel('running')).toBe('started');
    expect(r.cancel('never-offered')).toBe('unknown');
    expect(r.pending()).toBe(0);
    expect(sent.filter((m) => m.type === 'cancelled')).toEqual([
      { type: 'cancelled', jobId: 'waiting', status: 'dropped' },
      { type: 'cancelled', jobId: 'queued', status: 'dropped' },
      { type: 'cancelled', jobId: 'running', status: 'started' },
      { type: 'cancelled', jobId: 'never-offered', status: 'unknown' },
    ]);
    // A job.start arriving late (or again) does not revive a cancelled job.
    r.start('waiting');
    g.gates.get('running')!(1);
    await flush();
    expect([...g.runs.keys()]).toEqual(['running']);
    expect(results().map((m) => m.jobId)).toEqual(['running']);
    expect(journal.stateOf('waiting')).toBe('cancelled');
    expect(journal.stateOf('queued')).toBe('cancelled');
  });

  it('a cancelled job does not run after a restart either', async () => {
    const before = runner();
    before.register({ kind: 'k', handle: async () => 1 });
    before.deliver(job('c'));
    before.cancel('c');
    // The process restarts over the same journal.
    const after = runner();
    let ran = false;
    after.register({ kind: 'k', handle: async () => (ran = true) });
    expect(after.resume()).toBe(0);
    expect(journal.pendingJobIds(10)).toEqual([]);
    after.start('c');
    await flush();
    expect(ran).toBe(false);
  });

  it('fails a job that keeps crashing the process instead of looping', async () => {
    journal.receive(job('poison'));
    for (let i = 0; i < journal.maxAttempts; i++) journal.start('poison');
    const r = runner();
    let ran = false;
    r.register({ kind: 'k', handle: async () => (ran = true) });
    r.resume();
    await flush();
    expect(ran).toBe(false);
    expect(results()[0]).toMatchObject({
      outcome: {
        ok: false,
        error: { code: 'OUTPOST_ERR_INTERNAL', message: 'job interrupted too many times' },
      },
    });
  });

  it('stop() waits for running jobs and leaves queued ones journaled for the next start', async () => {
    const r = runner(1);
    const g = gatedHandler('k');
    r.register(g.handler);
    offer(r, job('a'));
    offer(r, job('b'));
    await flush();
    const stopped = r.stop();
    g.gates.get('a')!(1);
    await stopped;
    expect(journal.stateOf('a')).toBe('done');
    expect(journal.stateOf('b')).toBe('accepted');
    expect(g.runs.has('b')).toBe(false);
  });

  it('refuses two handlers for one kind', () => {
    const r = runner();
    r.register({ kind: 'k', handle: async () => 1 });
    expect(() => r.register({ kind: 'k', handle: async () => 2 })).toThrow(/already registered/);
  });
});
