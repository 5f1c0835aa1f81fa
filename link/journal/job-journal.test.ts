import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../ports.js';
import { JobJournal } from './job-journal.js';
import { openJournalDb } from './journal-db.js';
import { JOURNAL_MIGRATIONS } from './migrations.js';

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
    // Offered again after a cancel: accepted again (it never ran); the cloud decides once more.
    { steps: ['cancel'], redelivery: 'pending', state: 'accepted' },
  ])('after $steps a redelivery is $redelivery and the job is $state', ({ steps, redelivery, state }) => {
    const { db, journal } = open();
    expect(journal.receive(job('j'))).toBe('new');
    for (const step of steps) {
      if (step === 'start') journal.start('j');
      if (step === 'finish') journal.finish('j', OK, 'm-j');
      if (step === 'ack') expect(journal.ack('m-j')).toBe('result');
      if (step === 'cancel') expect(journal.cancel('j')).toBe('dropped');
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

  it.each([
    // steps before the cancel, what the cancel reports, the state after it
    { steps: [], cancel: 'dropped', state: 'cancelled' },
    { steps: ['cancel'], cancel: 'dropped', state: 'cancelled' },
    { steps: ['start'], cancel: 'started', state: 'running' },
    { steps: ['start', 'finish'], cancel: 'started', state: 'done' },
    { steps: ['start', 'finish', 'ack'], cancel: 'started', state: 'delivered' },
  ])('job.cancel after $steps: $cancel, then $state', ({ steps, cancel, state }) => {
    const { db, journal } = open();
    journal.receive(job('j'));
    journal.put('j', Buffer.from('cp'));
    for (const step of steps) {
      if (step === 'start') journal.start('j');
      if (step === 'finish') journal.finish('j', OK, 'm-j');
      if (step === 'ack') journal.ack('m-j');
      if (step === 'cancel') journal.cancel('j');
    }
    expect(journal.cancel('j')).toBe(cancel);
    expect(journal.stateOf('j')).toBe(state);
    expect(journal.cancel('never-seen')).toBe('unknown');
    db.close();
  });

  it('a cancelled job is not pending, never starts and is never resumed', () => {
    const { db, journal } = open();
    journal.receive(job('c'));
    journal.put('c', Buffer.from('cp'));
    journal.receive(job('kept'));
    journal.cancel('c');
    expect(journal.start('c')).toBe(0);
    expect(journal.pendingJobIds(10)).toEqual(['kept']);
    expect(journal.interrupted()).toEqual([]);
    expect(journal.get('c')).toBeUndefined();
    journal.finish('c', OK, 'm-c');
    expect(journal.stateOf('c')).toBe('cancelled');
    expect(journal.undelivered()).toEqual([]);
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

  it('prunes delivered and cancelled jobs after the retention, and only those', () => {
    const { db, journal } = open();
    for (const id of ['old', 'recent', 'unacked']) {
      journal.receive(job(id));
      journal.finish(id, OK, `m-${id}`);
    }
    for (const id of ['old-cancelled', 'recent-cancelled', 'waiting']) journal.receive(job(id));
    journal.ack('m-old');
    journal.cancel('old-cancelled');
    now = T0 + 10_000;
    journal.ack('m-recent');
    journal.cancel('recent-cancelled');
    now = T0 + 15_000;
    expect(journal.prune(10_000)).toBe(2);
    expect(journal.stateOf('old')).toBeUndefined();
    expect(journal.stateOf('old-cancelled')).toBeUndefined();
    expect(journal.stateOf('recent')).toBe('delivered');
    expect(journal.stateOf('recent-cancelled')).toBe('cancelled');
    expect(journal.stateOf('unacked')).toBe('done');
    expect(journal.stateOf('waiting')).toBe('accepted');
    db.close();
  });
});

describe('JobJournal after a crash (real SQLite file, reopened)', () => {
  it('resumes interrupted jobs, keeps waiting and cancelled ones, resends unacked results, in order', () => {
    const first = open();
    now = T0;
    first.journal.receive(job('queued'));
    first.journal.receive(job('cancelled'));
    first.journal.cancel('cancelled');
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
    expect(second.journal.interrupted()).toEqual([{ ...job('interrupted'), attempts: 1 }]);
    expect(second.journal.pendingJobIds(10)).toEqual(['queued', 'interrupted', 'finished']);
    expect(second.journal.stateOf('cancelled')).toBe('cancelled');
    expect(second.journal.start('cancelled')).toBe(0);
    expect(second.journal.get('interrupted')?.toString()).toBe('key material reference');
    expect(second.journal.undelivered()).toEqual([
      { jobId: 'finished', messageId: 'm-finished', outcome: OK },
    ]);
    expect(second.journal.outbox().map((e) => e.messageId)).toEqual(['ev']);
    expect(second.journal.getState('configVersion')).toBe('7');
    expect(second.journal.counts()).toEqual({ accepted: 1, running: 1, done: 1, delivered: 1, cancelled: 1 });
    first.db.close();
    second.db.close();
  });
});

describe('JobJournal schema', () => {
  it('upgrades a version 1 journal in place: jobs, states and checkpoints kept, cancelled allowed', () => {
    const file = join(dir, 'journal.db');
    const v1 = new Database(file);
    v1.pragma('foreign_keys = ON');
    v1.exec('CREATE TABLE journal_migrations (version INTEGER PRIMARY KEY)');
    v1.exec(JOURNAL_MIGRATIONS[0]!);
    v1.prepare('INSERT INTO journal_migrations (version) VALUES (1)').run();
    const insert = v1.prepare(
      'INSERT INTO jobs (id, kind, payload, state, attempts, received_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    insert.run('waiting', 'cert.revoke', '{"serial":"waiting"}', 'accepted', 0, T0);
    insert.run('interrupted', 'cert.revoke', '{"serial":"interrupted"}', 'running', 2, T0 + 1);
    v1.prepare('INSERT INTO checkpoints (job_id, data, updated_at) VALUES (?, ?, ?)').run(
      'interrupted',
      Buffer.from('cp'),
      T0,
    );
    v1.close();

    const { db, journal } = open();
    expect(journal.interrupted()).toEqual([{ ...job('interrupted'), attempts: 2 }]);
    expect(journal.get('interrupted')?.toString()).toBe('cp');
    expect(journal.cancel('waiting')).toBe('dropped');
    expect(journal.stateOf('waiting')).toBe('cancelled');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // The foreign key still cascades from the rebuilt table.
    db.prepare("DELETE FROM jobs WHERE id = 'interrupted'").run();
    expect(journal.get('interrupted')).toBeUndefined();
    db.close();
  });
});
