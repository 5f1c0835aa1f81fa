import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ApplianceRole } from '../../link/schema/index.js';
import { type ApplianceConnection, Connections, type Outbound } from '../link/connections.js';
import { openCloudDb } from '../store/cloud-db.js';
import { Jobs } from '../store/jobs.js';
import { JobDispatcher } from './job-dispatcher.js';

const clock = () => new Date('2026-01-01T00:00:00Z');

class FakeConnection implements ApplianceConnection {
  readonly sent: Outbound[] = [];
  readonly roles: ReadonlySet<ApplianceRole>;
  constructor(
    readonly applianceId: string,
    roles: ApplianceRole[] = ['gateway', 'connector'],
  ) {
    this.roles = new Set(roles);
  }
  send(message: Outbound): void {
    this.sent.push(message);
  }
  close(): void {}
  /** Ids of the jobs offered so far, and forget them. */
  offered(): string[] {
    const ids = this.sent.flatMap((m) => (m.type === 'job' ? [m.job.id] : []));
    this.sent.length = 0;
    return ids;
  }
}

function setup(reassignGraceMs = 0) {
  const jobs = new Jobs(openCloudDb(':memory:'));
  const connections = new Connections();
  const dispatcher = new JobDispatcher({
    jobs,
    connections,
    clock,
    logger: pino({ level: 'silent' }),
    reassignGraceMs,
  });
  const connect = (c: FakeConnection, pending: string[] = []) => {
    connections.add(c);
    dispatcher.onHello(c, pending);
  };
  const disconnect = (c: FakeConnection) => {
    connections.remove(c);
    dispatcher.onDisconnect(c.applianceId);
  };
  const revoke = (user: string) => dispatcher.submit('session.revoke', { role: 'gateway' }, { user }).id;
  return { jobs, dispatcher, connect, disconnect, revoke };
}

describe('JobDispatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('offers each job to one appliance of the role, the least loaded', () => {
    const { connect, revoke } = setup();
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    const connectorOnly = new FakeConnection('c', ['connector']);
    connect(a);
    connect(b);
    connect(connectorOnly);
    const ids = [revoke('u1'), revoke('u2'), revoke('u3'), revoke('u4')];
    const offeredA = a.offered();
    const offeredB = b.offered();
    expect(offeredA).toHaveLength(2);
    expect(offeredB).toHaveLength(2);
    expect([...offeredA, ...offeredB].sort()).toEqual([...ids].sort());
    expect(connectorOnly.offered()).toEqual([]);
  });

  it('offers a job targeted at an appliance to that appliance only, when it connects', () => {
    const { dispatcher, connect } = setup();
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    connect(a);
    const id = dispatcher.submit('session.revoke', { applianceId: 'b' }, { device: 'd' }).id;
    expect(a.offered()).toEqual([]);
    connect(b);
    expect(b.offered()).toEqual([id]);
  });

  it.each([
    ['reconnects first', true],
    ['stays away', false],
  ])('an unaccepted offer waits out the grace for its appliance (it %s)', (_name, comesBack) => {
    vi.useFakeTimers();
    const { connect, disconnect, revoke } = setup(30_000);
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    connect(a);
    const id = revoke('u');
    expect(a.offered()).toEqual([id]);
    disconnect(a);
    connect(b);
    expect(b.offered()).toEqual([]);
    vi.advanceTimersByTime(29_999);
    expect(b.offered()).toEqual([]);
    if (comesBack) {
      const again = new FakeConnection('a');
      connect(again);
      expect(again.offered()).toEqual([id]);
      vi.advanceTimersByTime(1);
      expect(b.offered()).toEqual([]);
    } else {
      vi.advanceTimersByTime(1);
      expect(b.offered()).toEqual([id]);
    }
  });

  it('never gives an accepted job to another appliance; re-offers it to its own if its journal lost it', () => {
    const { jobs, dispatcher, connect, disconnect, revoke } = setup();
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    connect(a);
    const id = revoke('u');
    a.offered();
    expect(dispatcher.onAccepted(a, id)).toBe('accepted');
    expect(dispatcher.onAccepted(a, id)).toBe('again');
    disconnect(a);
    connect(b);
    expect(b.offered()).toEqual([]);
    expect(dispatcher.onAccepted(b, id)).toBe('taken');
    const back = new FakeConnection('a');
    connect(back, [id]);
    expect(back.offered()).toEqual([]);
    disconnect(back);
    const wiped = new FakeConnection('a');
    connect(wiped, []);
    expect(wiped.offered()).toEqual([id]);
    expect(jobs.get(id)).toMatchObject({ status: 'running', acceptedBy: 'a' });
  });

  it('a job listed in hello.pendingResults (job.accepted lost) becomes running there', () => {
    const { jobs, connect, disconnect, revoke } = setup();
    const a = new FakeConnection('a');
    connect(a);
    const id = revoke('u');
    disconnect(a);
    const back = new FakeConnection('a');
    connect(back, [id, 'unknown-job']);
    expect(back.offered()).toEqual([]);
    expect(jobs.get(id)).toMatchObject({ status: 'running', acceptedBy: 'a' });
  });

  it('stores the first result; later ones are duplicates; an off-schema result is a failure', () => {
    const { jobs, dispatcher, connect, revoke } = setup();
    const a = new FakeConnection('a');
    const stranger = new FakeConnection('s', ['connector']);
    connect(a);
    const id = revoke('u');
    expect(dispatcher.onResult(stranger, id, { status: 'done', result: { disconnected: 1 } })).toBe(
      'unknown',
    );
    expect(dispatcher.onResult(a, id, { status: 'done', result: { disconnected: 1 } })).toBe('stored');
    expect(dispatcher.onResult(a, id, { status: 'done', result: { disconnected: 9 } })).toBe('duplicate');
    expect(jobs.get(id)).toMatchObject({ status: 'done', result: { disconnected: 1 }, acceptedBy: 'a' });

    const bad = revoke('v');
    expect(dispatcher.onResult(a, bad, { status: 'done', result: { disconnected: 'many' } })).toBe('stored');
    expect(jobs.get(bad)).toMatchObject({
      status: 'failed',
      error: { code: 'OUTPOST_ERR_INTERNAL', retryable: false },
    });
  });

  it('after a restart, offers held by appliances are withdrawn once the grace passes', () => {
    vi.useFakeTimers();
    const first = setup(0);
    const a = new FakeConnection('a');
    first.connect(a);
    const id = first.revoke('u');
    // A second dispatcher over the same table stands for the restarted cloud.
    const connections = new Connections();
    const restarted = new JobDispatcher({
      jobs: first.jobs,
      connections,
      clock,
      logger: pino({ level: 'silent' }),
      reassignGraceMs: 5_000,
    });
    restarted.start();
    const b = new FakeConnection('b');
    connections.add(b);
    restarted.onHello(b, []);
    expect(b.offered()).toEqual([]);
    vi.advanceTimersByTime(5_000);
    expect(b.offered()).toEqual([id]);
    restarted.close();
  });
});

describe('JobDispatcher setup', () => {
  let jobs: Jobs;
  beforeEach(() => {
    jobs = new Jobs(openCloudDb(':memory:'));
  });
  it('counts jobs by status', () => {
    jobs.create('session.revoke', { role: 'gateway' }, { user: 'x' }, clock());
    expect(jobs.countByStatus()).toEqual({ pending: 1, running: 0, done: 0, failed: 0 });
  });
});
