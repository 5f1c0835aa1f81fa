import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../ports.js';
import { JobJournal } from './job-journal.js';
import { openJournalDb } from './journal-db.js';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const OK: JobOutcome = { ok: true, result: { serial: '0a' } };
const job = (id: string, kind = 'cert.revoke') => ({ id, kind, payload: { serial: id } });

let dir: string;
let now: number;
const clock = () => now;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-journal-'));
  now = T0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(options: { maxOutbox?: number } = {}) {
  const db = openJournalDb(join(dir, 'journal.db'));
  return { db, journal: new JobJournal(db, { clock, ...options }) };
}

describe('JobJournal state machine', () => {
  it.each([
    // steps applied to job "j", then what a redelivery of "j" reports and the state it is in
    { steps: [], redelivery: 'pending', state: 'accepted' },
    { steps: ['start'], redelivery: 'pending', state: 'running' },
    { steps: ['start', 'finish'], redelivery: 'finished', state: 'done' },
    { steps: ['start', 'finish', 'ack'], redelivery: 'finished', state: 'delivered' },
    { steps: ['finish'], redelivery: 'finished', state: 'done' },
  ])('after $steps a redelivery is $redelivery and the job is $state', ({ steps, redelivery, state }) => {
    const { db, journal } = open();
    expect(journal.receive(job('j'))).toBe('new');
    for (const step of steps) {
      if (step === 'start') journal.start('j');
      if (step === 'finish') journal.finish('j', OK, 'm-j');
      if (step === 'ack') expect(journal.ack('m-j')).toBe('result');
    }
    expect(journal.receive(job('j'))).toBe(redelivery);
    expect(journal.stateOf('j')).toBe(state);
    db.close();
  });

  it('counts attempts and never restarts or refinishes a finished job', () => {
    const { db, journal } = open();
    journal.receive(job('a'));
    expect(journal.start('a')).toBe(1);
    expect(journal.start('a')).toBe(2);
    journal.finish('a', OK, 'm1');
    expect(journal.start('a')).toBe(0);
    journal.finish('a', { ok: false, error: { code: 'X', retryable: false, message: 'm' } }, 'm2');
    expect(journal.resultOf('a')).toEqual({ jobId: 'a', messageId: 'm1', outcome: OK });
    db.close();
  });

  it('acks results by message id, events by message id, and ignores unknown or repeated acks', () => {
    const { db, journal } = open();
    journal.receive(job('a'));
    journal.finish('a', OK, 'result-a');
    journal.enqueue({ messageId: 'event-1', type: 'event', body: { kind: 'k', data: {} } });
    expect(journal.ack('result-a')).toBe('result');
    expect(journal.ack('result-a')).toBe('unknown');
    expect(journal.ack('event-1')).toBe('event');
    expect(journal.ack('nope')).toBe('unknown');
    expect(journal.undelivered()).toEqual([]);
    expect(journal.outbox()).toEqual([]);
    db.close();
  });

  it('checkpoints survive until the job finishes', () => {
    const { db, journal } = open();
    journal.receive(job('a'));
    expect(journal.get('a')).toBeUndefined();
    journal.put('a', Buffer.from('01', 'hex'));
    journal.put('a', Buffer.from('0203', 'hex'));
    expect(journal.get('a')).toEqual(Buffer.from('0203', 'hex'));
    journal.finish('a', OK, 'm');
    expect(journal.get('a')).toBeUndefined();
    db.close();
  });

  it('bounds the event outbox by dropping the oldest', () => {
    const { db, journal } = open({ maxOutbox: 3 });
    for (let i = 0; i < 5; i++) {
      now = T0 + i;
      journal.enqueue({ messageId: `e${i}`, type: 'event', body: { i } });
    }
    expect(journal.outbox().map((e) => e.messageId)).toEqual(['e2', 'e3', 'e4']);
    expect(journal.droppedEvents).toBe(2);
    db.close();
  });

  it('prunes delivered jobs after the retention, and only those', () => {
    const { db, journal } = open();
    for (const id of ['old', 'recent', 'unacked']) {
      journal.receive(job(id));
      journal.finish(id, OK, `m-${id}`);
    }
    journal.ack('m-old');
    now = T0 + 10_000;
    journal.ack('m-recent');
    now = T0 + 15_000;
    expect(journal.prune(10_000)).toBe(1);
    expect(journal.stateOf('old')).toBeUndefined();
    expect(journal.stateOf('recent')).toBe('delivered');
    expect(journal.stateOf('unacked')).toBe('done');
    db.close();
  });
});

describe('JobJournal after a crash (real SQLite file, reopened)', () => {
  it('resumes accepted and running jobs and resends unacked results, in order', () => {
    const first = open();
    now = T0;
    first.journal.receive(job('queued'));
    now = T0 + 1;
    first.journal.receive(job('interrupted'));
    first.journal.start('interrupted');
    first.journal.put('interrupted', Buffer.from('key material reference'));
    now = T0 + 2;
    first.journal.receive(job('finished'));
    first.journal.finish('finished', OK, 'm-finished');
    first.journal.receive(job('acked'));
    first.journal.finish('acked', OK, 'm-acked');
    first.journal.ack('m-acked');
    first.journal.enqueue({ messageId: 'ev', type: 'event', body: { kind: 'x', data: {} } });
    first.journal.setState('configVersion', '7');
    // No close: the process dies here. A second connection sees what was committed.
    const second = open();
    expect(second.journal.unfinished()).toEqual([
      { ...job('queued'), attempts: 0 },
      { ...job('interrupted'), attempts: 1 },
    ]);
    expect(second.journal.get('interrupted')?.toString()).toBe('key material reference');
    expect(second.journal.undelivered()).toEqual([
      { jobId: 'finished', messageId: 'm-finished', outcome: OK },
    ]);
    expect(second.journal.outbox().map((e) => e.messageId)).toEqual(['ev']);
    expect(second.journal.getState('configVersion')).toBe('7');
    expect(second.journal.counts()).toEqual({ accepted: 1, running: 1, done: 1, delivered: 1 });
    first.db.close();
    second.db.close();
  });
});
