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
    readonly site = 'default',
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
  /** The `job.start` and `job.cancel` answers so far, as `start:ID` / `cancel:ID:reason`, and forget them. */
  answers(): string[] {
    const out = this.sent.flatMap((m) =>
      m.type === 'job.start'
        ? [`start:${m.jobId}`]
        : m.type === 'job.cancel'
          ? [`cancel:${m.jobId}:${m.reason}`]
          : [],
    );
    this.sent.length = 0;
    return out;
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
    expect(a.answers()).toEqual([`start:${id}`, `start:${id}`]);
    disconnect(a);
    connect(b);
    expect(b.offered()).toEqual([]);
    expect(dispatcher.onAccepted(b, id)).toBe('taken');
    expect(b.answers()).toEqual([`cancel:${id}:reassigned`]);
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

describe('JobDispatcher: start and cancel (two appliances of one site)', () => {
  afterEach(() => vi.useRealTimers());

  it('a job offered to an appliance that vanishes before accepting runs on the other; the first is cancelled', () => {
    vi.useFakeTimers();
    const { jobs, dispatcher, connect, disconnect, revoke } = setup(10_000);
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    connect(a);
    const id = revoke('u');
    expect(a.offered()).toEqual([id]);
    disconnect(a); // a journaled the job; its job.accepted was lost with the socket
    connect(b);
    vi.advanceTimersByTime(10_000);
    expect(b.offered()).toEqual([id]);
    expect(dispatcher.onAccepted(b, id)).toBe('accepted');
    expect(b.answers()).toEqual([`start:${id}`]);

    // a comes back listing the job (waiting in its journal), then repeats its job.accepted.
    const back = new FakeConnection('a');
    connect(back, [id]);
    expect(dispatcher.onAccepted(back, id)).toBe('taken');
    expect(back.answers()).toEqual([`cancel:${id}:reassigned`, `cancel:${id}:reassigned`]);
    expect(jobs.get(id)).toMatchObject({ status: 'running', acceptedBy: 'b' });

    expect(dispatcher.onResult(b, id, { status: 'done', result: { disconnected: 1 } })).toBe('stored');
    disconnect(back);
    const later = new FakeConnection('a');
    connect(later, [id]);
    expect(later.answers()).toEqual([`cancel:${id}:finished`]);
    // b itself listing the finished job (its result not yet acked) is neither started nor cancelled.
    disconnect(b);
    const bBack = new FakeConnection('b');
    connect(bBack, [id]);
    expect(bBack.answers()).toEqual([]);
  });

  it('a hello listing a job still offered to that appliance starts it there', () => {
    const { jobs, connect, disconnect, revoke } = setup(60_000);
    const a = new FakeConnection('a');
    connect(a);
    const id = revoke('u');
    disconnect(a);
    const back = new FakeConnection('a');
    connect(back, [id]);
    expect(back.answers()).toEqual([`start:${id}`]);
    expect(jobs.get(id)).toMatchObject({ status: 'running', acceptedBy: 'a' });
  });

  it('a site job goes only to the appliances of its site; a role job to any', () => {
    const { dispatcher, connect } = setup();
    const paris = new FakeConnection('p', ['connector'], 'paris');
    const lyon = new FakeConnection('l', ['connector'], 'lyon');
    connect(paris);
    connect(lyon);
    const ids = [1, 2, 3].map(
      (n) => dispatcher.submit('cert.revoke', { role: 'connector', site: 'lyon' }, { serialHex: `0${n}` }).id,
    );
    expect(paris.offered()).toEqual([]);
    expect(lyon.offered()).toEqual(ids);
    expect(dispatcher.onAccepted(paris, ids[0]!)).toBe('unknown');
    expect(paris.answers()).toEqual([`cancel:${ids[0]}:unknown`]);
    const any = dispatcher.submit('cert.revoke', { role: 'connector' }, { serialHex: '09' }).id;
    expect(paris.offered()).toEqual([any]);
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
