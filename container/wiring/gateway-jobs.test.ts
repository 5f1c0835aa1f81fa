import { describe, expect, it } from 'vitest';
import { type SessionEndReason, SessionTable } from '../../gateway/session/session-table.js';
import { type SessionMatch, sessionMatches } from '../../gateway/site/session-store.js';
import { sessionRevokeHandler } from './gateway-jobs.js';

function table() {
  const sessions = new SessionTable(
    { maxClients: 100, maxSessionsPerUser: 10, cookieTimeoutSeconds: 300, sessionTimeoutSeconds: 3600 },
    () => 1_000_000,
  );
  const alice = sessions.create(
    { username: 'alice', groups: [], method: 'password', device: 'phone-1' },
    '192.0.2.1',
  );
  const alice2 = sessions.create(
    { username: 'alice', groups: [], method: 'password', device: 'tablet' },
    '192.0.2.2',
  );
  const bob = sessions.create(
    { username: 'bob', groups: [], method: 'certificate', device: 'phone-2' },
    '192.0.2.3',
  );
  sessions.markConnected(alice.session);
  sessions.markConnected(bob.session);
  sessions.markDisconnected(bob.session);
  return { sessions, alice, alice2, bob };
}

/** The one-box closeSessions: the table's own sessions (gateway-role.ts does the same). */
function revocable(sessions: SessionTable) {
  return {
    closeSessions: async (match: SessionMatch, reason: SessionEndReason) =>
      sessions.closeWhere((s) => sessionMatches(s, match), reason),
  };
}

describe('session.revoke', () => {
  it.each([
    ['a user: every session of theirs', { user: 'alice' }, 2, ['bob']],
    ['a device, even while it waits for a reconnect', { device: 'phone-2' }, 1, ['alice', 'alice']],
    ['user or device', { user: 'bob', device: 'tablet' }, 2, ['alice']],
    ['nobody matching', { user: 'carol' }, 0, ['alice', 'alice', 'bob']],
  ])('%s', async (_name, payload, count, left) => {
    const { sessions } = table();
    const result = await sessionRevokeHandler(revocable(sessions)).handle({
      id: 'j1',
      kind: 'session.revoke',
      payload,
    });
    expect(result).toEqual({ disconnected: count });
    expect(
      sessions
        .list()
        .map((s) => s.identity.username)
        .sort(),
    ).toEqual(left);
  });

  it('refuses the revoked cookie and closes the live tunnel', async () => {
    const { sessions, alice } = table();
    const reasons: string[] = [];
    alice.session.disconnect = (reason) => reasons.push(reason);
    await sessionRevokeHandler(revocable(sessions)).handle({
      id: 'j2',
      kind: 'session.revoke',
      payload: { user: 'alice' },
    });
    expect(reasons).toEqual(['revoked by the cloud']);
    expect(() => sessions.byCookieValue(alice.cookie)).toThrow(/revoked/);
  });

  it.each([[{}], [{ user: '' }], [null], [{ user: 'x'.repeat(300) }]])(
    'rejects payload %j as a bad request',
    async (payload) => {
      const { sessions } = table();
      await expect(
        sessionRevokeHandler(revocable(sessions)).handle({ id: 'j3', kind: 'session.revoke', payload }),
      ).rejects.toMatchObject({ code: 'OUTPOST_ERR_BAD_REQUEST' });
      expect(sessions.size).toBe(3);
    },
  );
});
