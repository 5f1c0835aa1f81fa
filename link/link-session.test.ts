import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigDispatcher } from './config-dispatcher.js';
import { JobRunner } from './job-runner.js';
import { JobJournal } from './journal/job-journal.js';
import { type JournalDb, openJournalDb } from './journal/journal-db.js';
import { LinkSession, type SessionHooks } from './link-session.js';
import { parseApplianceMessage } from './schema/parse.js';

const logger = pino({ level: 'silent' });
const APPLIANCE = 'appl-1';
const T = '2025-03-01T12:00:00Z';

/** A socket that records what the session sends, parsed back with the shared schema. */
class FakeSocket {
  sent: Array<Record<string, unknown>> = [];
  closedWith: number | undefined;
  send(text: string) {
    this.sent.push(parseApplianceMessage(text) as unknown as Record<string, unknown>);
  }
  close(code: number) {
    this.closedWith = code;
  }
  ofType(type: string) {
    return this.sent.filter((m) => m.type === type);
  }
}

const flush = () => new Promise((r) => setImmediate(r));
const wire = (m: Record<string, unknown>) => JSON.stringify({ v: 1, ...m });
const welcome = (id = 'w1', applianceId = APPLIANCE) =>
  wire({ type: 'welcome', id, applianceId, serverTime: T });
const jobMsg = (jobId: string, id = `m-${jobId}`) =>
  wire({
    type: 'job',
    id,
    job: { id: jobId, kind: 'session.revoke', payload: { user: 'alice' }, createdAt: T },
  });
const startMsg = (jobId: string, id = `s-${jobId}`) => wire({ type: 'job.start', id, jobId });
const cancelMsg = (jobId: string, id = `x-${jobId}`) =>
  wire({ type: 'job.cancel', id, jobId, reason: 'reassigned' });
/** The cloud's offer and, once accepted, its go-ahead. */
const offer = (s: LinkSession, jobId: string, id?: string) => {
  s.receive(Buffer.from(jobMsg(jobId, id)));
  s.receive(Buffer.from(startMsg(jobId)));
};

let db: JournalDb;
let journal: JobJournal;
let socket: FakeSocket;
let hookCalls: string[];
let runs: string[];

function session(extraHooks: Partial<SessionHooks> = {}) {
  const runner = new JobRunner({
    journal,
    logger,
    concurrency: 2,
    timeoutMs: 10_000,
    outbound: {
      accepted: (id) => s.sendAccepted(id),
      result: (r) => s.sendResult(r),
      cancelled: (id, status) => s.sendCancelled(id, status),
    },
  });
  runner.register({
    kind: 'session.revoke',
    handle: async (job) => {
      runs.push(job.id);
      return { disconnected: 1 };
    },
  });
  const configs = new ConfigDispatcher(journal, logger);
  configs.register({ section: 'gateway', apply: async () => undefined });
  configs.register({
    section: 'connector',
    validate: async (c) => {
      if ((c as { bad?: boolean }).bad) throw Object.assign(new Error('x'), {});
    },
    apply: async () => undefined,
  });
  let n = 0;
  const s: LinkSession = new LinkSession({
    socket,
    identity: { applianceId: APPLIANCE, roles: ['gateway', 'connector'], version: '1.2.3' },
    journal,
    runner,
    configs,
    logger,
    newId: () => `out-${++n}`,
    hooks: {
      welcomed: () => {
        hookCalls.push('welcomed');
        runner.resendUndelivered();
      },
      jwks: () => hookCalls.push('jwks'),
      renewed: () => hookCalls.push('renewed'),
      refused: () => hookCalls.push('refused'),
      ...extraHooks,
    },
  });
  return { s, runner };
}

beforeEach(() => {
  db = openJournalDb(':memory:');
  journal = new JobJournal(db);
  socket = new FakeSocket();
  hookCalls = [];
  runs = [];
});
afterEach(() => db.close());

describe('LinkSession', () => {
  it('says hello first with the journal view: config version and pending job ids', () => {
    journal.receive({ id: 'j-old', kind: 'session.revoke', payload: {} });
    journal.setState('configVersion', '4');
    const { s } = session();
    s.start();
    expect(socket.sent[0]).toMatchObject({
      type: 'hello',
      applianceId: APPLIANCE,
      roles: ['gateway', 'connector'],
      version: '1.2.3',
      configVersion: 4,
      pendingResults: ['j-old'],
    });
  });

  it.each([
    ['a job', jobMsg('j1')],
    ['an ack', wire({ type: 'ack', id: 'a1', ref: 'x' })],
    ['a config', wire({ type: 'config', id: 'c1', version: 1, config: {} })],
  ])('refuses %s before welcome as out-of-order and keeps the connection', (_n, text) => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(text));
    expect(socket.ofType('error')[0]).toMatchObject({
      reason: 'out-of-order',
      code: 'OUTPOST_ERR_BAD_REQUEST',
    });
    expect(socket.closedWith).toBeUndefined();
    expect(runs).toEqual([]);
  });

  it.each([
    { name: 'not JSON', input: '{nope', reason: 'malformed', ref: undefined },
    { name: 'not UTF-8', input: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), reason: 'malformed', ref: undefined },
    { name: 'an array', input: '[1,2]', reason: 'malformed', ref: undefined },
    {
      name: 'version 2',
      input: JSON.stringify({ v: 2, type: 'ack', id: 'z1', ref: 'r' }),
      reason: 'unsupported-version',
      ref: 'z1',
    },
    {
      name: 'an unknown type',
      input: wire({ type: 'explode', id: 'z2' }),
      reason: 'unknown-type',
      ref: 'z2',
    },
    {
      name: 'an appliance-only type',
      input: wire({ type: 'hello', id: 'z3' }),
      reason: 'unknown-type',
      ref: 'z3',
    },
    {
      name: 'a job with a bad payload',
      input: wire({
        type: 'job',
        id: 'z4',
        job: { id: 'j', kind: 'session.revoke', payload: {}, createdAt: T },
      }),
      reason: 'invalid',
      ref: 'z4',
    },
    { name: 'an oversized message', input: 'x'.repeat(1024 * 1024 + 1), reason: 'oversized', ref: undefined },
  ])('answers $name with error $reason (ref when readable) and stays usable', ({ input, reason, ref }) => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.receive(typeof input === 'string' ? Buffer.from(input) : input);
    const [error] = socket.ofType('error');
    expect(error).toMatchObject({ reason, code: 'OUTPOST_ERR_DECODE' });
    expect(error?.ref).toBe(ref);
    expect(socket.closedWith).toBeUndefined();
    s.receive(Buffer.from(jobMsg('still-works')));
    expect(socket.ofType('job.accepted')).toHaveLength(1);
  });

  it('never throws and answers every fuzzed frame with at most one error', () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 256 })), (input) => {
        const before = socket.sent.length;
        s.receive(typeof input === 'string' ? Buffer.from(input) : Buffer.from(input));
        return socket.sent.length - before <= 2; // an error, or job.accepted + nothing else
      }),
    );
  });

  it('closes on a welcome for another appliance', () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome('w1', 'someone-else')));
    expect(socket.closedWith).toBe(1008);
    expect(s.welcomed).toBe(false);
  });

  it('accepts a job after journaling it, runs it on job.start, sends its result, drops it on ack by job id', async () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.receive(Buffer.from(jobMsg('j1')));
    expect(journal.stateOf('j1')).toBe('accepted');
    expect(socket.ofType('job.accepted')).toEqual([expect.objectContaining({ jobId: 'j1' })]);
    await flush();
    expect(runs).toEqual([]);
    s.receive(Buffer.from(startMsg('j1')));
    await flush();
    const [result] = socket.ofType('job.result');
    expect(result).toMatchObject({ jobId: 'j1', status: 'done', result: { disconnected: 1 } });
    s.receive(Buffer.from(wire({ type: 'ack', id: 'a1', ref: result!.id, jobId: 'j1' })));
    expect(journal.stateOf('j1')).toBe('delivered');
  });

  it('acks by message id alone, and resends unacked results on the next welcome under a new id', async () => {
    const first = session();
    first.s.start();
    first.s.receive(Buffer.from(welcome()));
    offer(first.s, 'j1');
    await flush();
    const firstId = socket.ofType('job.result')[0]!.id;
    first.s.end(); // socket lost before the ack
    socket = new FakeSocket();
    const second = session();
    second.s.start();
    expect(socket.sent[0]).toMatchObject({ type: 'hello', pendingResults: ['j1'] });
    second.s.receive(Buffer.from(welcome('w2')));
    const [resent] = socket.ofType('job.result');
    expect(resent).toMatchObject({ jobId: 'j1', status: 'done' });
    expect(resent!.id).not.toBe(firstId);
    second.s.receive(Buffer.from(wire({ type: 'ack', id: 'a2', ref: resent!.id })));
    expect(journal.stateOf('j1')).toBe('delivered');
    expect(runs).toEqual(['j1']);
  });

  it('re-acks a redelivered finished job and resends its result without running it again', async () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    offer(s, 'j1', 'm1');
    await flush();
    offer(s, 'j1', 'm2');
    await flush();
    expect(runs).toEqual(['j1']);
    expect(socket.ofType('job.accepted')).toHaveLength(2);
    expect(socket.ofType('job.result')).toHaveLength(2);
  });

  it('answers job.cancel with job.cancelled: a waiting job is dropped and not listed in the next hello', async () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.receive(Buffer.from(jobMsg('gone')));
    offer(s, 'mine');
    await flush();
    s.receive(Buffer.from(cancelMsg('gone')));
    s.receive(Buffer.from(cancelMsg('mine')));
    s.receive(Buffer.from(startMsg('gone')));
    await flush();
    expect(socket.ofType('job.cancelled')).toEqual([
      expect.objectContaining({ jobId: 'gone', status: 'dropped' }),
      expect.objectContaining({ jobId: 'mine', status: 'started' }),
    ]);
    expect(runs).toEqual(['mine']);
    expect(journal.stateOf('gone')).toBe('cancelled');
    s.end();
    socket = new FakeSocket();
    session().s.start();
    expect(socket.sent[0]).toMatchObject({ type: 'hello', pendingResults: ['mine'] });
  });

  it('answers config pushes: applied (then the same version again), rejected with the reason', async () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.receive(Buffer.from(wire({ type: 'config', id: 'c1', version: 3, config: { gateway: { a: 1 } } })));
    await flush();
    s.receive(Buffer.from(wire({ type: 'config', id: 'c2', version: 3, config: { gateway: { a: 1 } } })));
    await flush();
    s.receive(
      Buffer.from(
        wire({ type: 'config', id: 'c3', version: 4, config: { gateway: {}, connector: { bad: true } } }),
      ),
    );
    await flush();
    expect(socket.ofType('config.result')).toEqual([
      expect.objectContaining({ version: 3, status: 'applied' }),
      expect.objectContaining({ version: 3, status: 'applied' }),
      expect.objectContaining({
        version: 4,
        status: 'rejected',
        error: expect.objectContaining({ code: 'OUTPOST_ERR_CONFIG' }),
      }),
    ]);
    expect(journal.getState('configVersion')).toBe('3');
  });

  it('hands jwks, renewed and error messages to its hooks', () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.receive(
      Buffer.from(
        wire({
          type: 'jwks',
          id: 'k1',
          issuer: 'https://cloud',
          keys: [{ kty: 'EC', kid: 'a', crv: 'P-256', x: 'x', y: 'y' }],
        }),
      ),
    );
    s.receive(Buffer.from(wire({ type: 'renewed', id: 'r1', ref: 'out-9', certificate: 'PEM', chain: [] })));
    s.receive(
      Buffer.from(
        wire({ type: 'error', id: 'e1', ref: 'out-1', code: 'OUTPOST_ERR_BAD_REQUEST', message: 'no' }),
      ),
    );
    expect(hookCalls).toEqual(['welcomed', 'jwks', 'renewed', 'refused']);
  });

  it('replaces a result too large for one message with a limit failure', () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    journal.receive({ id: 'big', kind: 'cert.pkcs.issue', payload: {} });
    const outcome = { ok: true as const, result: { blob: 'x'.repeat(1024 * 1024) } };
    journal.finish('big', outcome, 'm0');
    s.sendResult({ jobId: 'big', messageId: 'm0', outcome });
    expect(socket.ofType('job.result')).toEqual([
      expect.objectContaining({
        jobId: 'big',
        status: 'failed',
        error: expect.objectContaining({ code: 'OUTPOST_ERR_LIMIT' }),
      }),
    ]);
  });

  it('sends nothing after the socket ended', async () => {
    const { s } = session();
    s.start();
    s.receive(Buffer.from(welcome()));
    s.end();
    const before = socket.sent.length;
    s.sendHealth({} as never);
    s.sendAccepted('x');
    expect(socket.sent.length).toBe(before);
  });
});
