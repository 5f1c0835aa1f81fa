import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
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
});
