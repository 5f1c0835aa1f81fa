import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import type { Session } from './session.js';
import { SessionTable } from './session-table.js';

const alice = { username: 'alice', groups: [], method: 'password' as const };
const limits = {
  maxClients: 3,
  maxSessionsPerUser: 2,
  cookieTimeoutSeconds: 300,
  sessionTimeoutSeconds: 3600,
};

function table() {
  let now = 1_000_000;
  const t = new SessionTable(limits, () => now);
  return { t, advance: (ms: number) => (now += ms) };
}

describe('SessionTable', () => {
  it('finds a session by its cookie, never stores the cookie, and indexes addresses while connected', () => {
    const { t } = table();
    const { session, cookie } = t.create(alice, '192.0.2.1');
    expect(JSON.stringify(session)).not.toContain(cookie);
    expect(t.byCookieValue(cookie)).toBe(session);
    session.ipv4 = '10.0.0.2';
    t.markConnected(session);
    expect(t.byTunnelAddress('10.0.0.2')).toBe(session);
    t.markDisconnected(session);
    expect(t.byTunnelAddress('10.0.0.2')).toBeUndefined();
    expect(t.byCookieValue(cookie)).toBe(session); // reconnect within the cookie timeout
  });

  it('hands out 32 random bytes per cookie, never the same twice across pool refills', () => {
    const t = new SessionTable({ ...limits, maxClients: 1000, maxSessionsPerUser: 1000 });
    const cookies = new Set<string>();
    // 300 cookies: more than two fills of the 4 KiB pool they are drawn from.
    for (let i = 0; i < 300; i++) {
      const { session, cookie } = t.create(alice, '192.0.2.1');
      expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(cookie, 'base64url').length).toBe(32);
      expect(t.byCookieValue(cookie)).toBe(session);
      cookies.add(cookie);
    }
    expect(cookies.size).toBe(300);
  });

  it('refuses a cookie after the cookie timeout of a disconnected session', () => {
    const { t, advance } = table();
    const { session, cookie } = t.create(alice, '192.0.2.1');
    t.markConnected(session);
    t.markDisconnected(session);
    advance(301_000);
    expect(() => t.byCookieValue(cookie)).toThrow(expect.objectContaining({ code: ErrorCodes.unauthorized }));
  });

  it('closes sessions on demand: the tunnel is told and the cookie refused', () => {
    const { t } = table();
    const { session, cookie } = t.create(alice, '192.0.2.1');
    const reasons: string[] = [];
    session.disconnect = (r) => reasons.push(r);
    t.markConnected(session);
    const closed: string[] = [];
    t.onClosed = (_s, r) => closed.push(r);
    expect(t.closeWhere((s) => s.identity.username === 'alice', 'revoked by the cloud')).toBe(1);
    expect(reasons).toEqual(['revoked by the cloud']);
    expect(closed).toEqual(['revoked by the cloud']);
    expect(() => t.byCookieValue(cookie)).toThrow(/revoked/);
    expect(() => t.byCookieValue('made-up')).toThrow(/unknown/);
  });

  it('enforces max clients, max sessions per user, drain mode and the session lifetime', () => {
    const { t, advance } = table();
    t.create(alice, 'a');
    t.create(alice, 'b');
    expect(() => t.create(alice, 'c')).toThrow(/this user/);
    t.create({ ...alice, username: 'bob' }, 'd');
    expect(() => t.create({ ...alice, username: 'carol' }, 'e')).toThrow(/too many clients/);
    advance(3_601_000);
    t.expire();
    expect(t.size).toBe(0);
    t.setDrain(true);
    expect(() => t.create(alice, 'f')).toThrow(/not accepting/);
  });

  it('expire() ends what is due by its latest deadline, not by one a reconnect or a reconfigure replaced', () => {
    const { t, advance } = table();
    const closed: string[] = [];
    t.onClosed = (s, r) => closed.push(`${s.remoteAddress}: ${r}`);
    const early = t.create(alice, 'early').session; // authenticated, never connected
    const back = t.create(alice, 'back').session;
    t.markConnected(back);
    t.markDisconnected(back);
    advance(200_000);
    t.markConnected(back); // reconnected: its first cookie deadline no longer holds
    advance(100_001);
    t.expire();
    expect(closed).toEqual(['early: cookie timeout']);
    expect(early.state).toBe('closed');
    t.markDisconnected(back);
    advance(300_000);
    t.expire();
    expect(closed).toHaveLength(1); // exactly at its deadline: not yet past it
    advance(1);
    t.expire();
    expect(closed).toEqual(['early: cookie timeout', 'back: cookie timeout']);
    const long = t.create(alice, 'long').session;
    t.markConnected(long);
    t.setLimits({ ...limits, sessionTimeoutSeconds: 10 });
    advance(10_001);
    t.expire();
    expect(closed.at(-1)).toBe('long: session timeout');
  });
});

type SessionOp =
  | { kind: 'create' }
  | { kind: 'connect' | 'disconnect' | 'close'; which: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'lifetime'; seconds: number };

const sessionOpArb: fc.Arbitrary<SessionOp> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const) }),
  fc.record({
    kind: fc.constantFrom('connect' as const, 'disconnect' as const, 'close' as const),
    which: fc.nat(20),
  }),
  fc.record({
    kind: fc.constant('advance' as const),
    ms: fc.constantFrom(0, 1, 1_000, 7_000, 19_999, 45_000),
  }),
  fc.record({ kind: fc.constant('lifetime' as const), seconds: fc.constantFrom(30, 90, 3600) }),
);

describe('SessionTable expiry properties', () => {
  it('after expire() no session is past its lifetime or (unless connected) its cookie, and none is ended early', () => {
    fc.assert(
      fc.property(fc.array(sessionOpArb, { maxLength: 60 }), (ops) => {
        let now = 1_000_000;
        let current = {
          maxClients: 1000,
          maxSessionsPerUser: 1000,
          cookieTimeoutSeconds: 20,
          sessionTimeoutSeconds: 60,
        };
        const t = new SessionTable(current, () => now);
        const made: Session[] = [];
        // The model: each session's cookie deadline while not connected (as the ops set it).
        const cookieDeadline = new Map<Session, number | undefined>();
        t.onClosed = (s, reason) => {
          // Ended by expire() only once it was due (strictly past the deadline).
          if (reason === 'session timeout')
            expect(now - s.createdAt).toBeGreaterThan(current.sessionTimeoutSeconds * 1000);
          if (reason === 'cookie timeout') expect(now).toBeGreaterThan(cookieDeadline.get(s)!);
        };
        for (const op of ops) {
          const s = 'which' in op ? made[op.which % Math.max(1, made.length)] : undefined;
          if (op.kind === 'create') {
            const session = t.create(alice, `c${made.length}`).session;
            made.push(session);
            cookieDeadline.set(session, now + 20_000);
          } else if (op.kind === 'advance') now += op.ms;
          else if (op.kind === 'lifetime') {
            current = { ...current, sessionTimeoutSeconds: op.seconds };
            t.setLimits(current);
          } else if (s && s.state !== 'closed') {
            if (op.kind === 'connect') {
              t.markConnected(s);
              cookieDeadline.set(s, undefined);
            } else if (op.kind === 'disconnect') {
              t.markDisconnected(s);
              cookieDeadline.set(s, now + 20_000);
            } else t.close(s, 'client logout');
          }
          t.expire();
          for (const session of made) {
            if (session.state === 'closed') continue;
            expect(now - session.createdAt).toBeLessThanOrEqual(current.sessionTimeoutSeconds * 1000);
            const deadline = cookieDeadline.get(session);
            if (deadline !== undefined) expect(now).toBeLessThanOrEqual(deadline);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
