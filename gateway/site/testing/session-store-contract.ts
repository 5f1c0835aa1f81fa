import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../core/errors.js';
import type { SessionStore, StoredSession } from '../session-store.js';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

function session(fields: Partial<StoredSession> = {}): StoredSession {
  const id = randomUUID();
  return {
    id,
    cookieHash: `hash-${id}`,
    identity: { username: 'alice', groups: ['Devices'], method: 'certificate', device: 'phone-1' },
    remoteAddress: '198.51.100.7',
    node: 'gw-a',
    state: 'authenticated',
    createdAt: T0,
    cookieExpiresAt: T0 + 300_000,
    ...fields,
  };
}

/**
 * What every SessionStore adapter must do, run against the memory adapter (unit test) and
 * PostgreSQL (test/postgresql-site-sessions.test.ts). `fresh` gives an empty store each time.
 */
export function describeSessionStoreContract(name: string, fresh: () => Promise<SessionStore>): void {
  describe(`SessionStore contract: ${name}`, () => {
    it('join: refuses a pool block that overlaps an active node’s, names that node; a silent node no longer counts', async () => {
      const store = await fresh();
      await store.join('gw-a', ['10.210.100.0/25', 'fd00:210::/113'], HOUR, T0);
      await store.join('gw-b', ['10.210.100.128/25'], HOUR, T0);
      const refused = store.join('gw-c', ['10.210.100.192/26'], HOUR, T0);
      await expect(refused).rejects.toMatchObject({ code: ErrorCodes.config });
      await expect(refused).rejects.toThrow(
        /10\.210\.100\.192\/26 of node gw-c overlaps 10\.210\.100\.128\/25 of node gw-b/,
      );
      await expect(store.join('gw-c', ['fd00:210::1:0/112'], HOUR, T0)).resolves.toBeUndefined();
      // A node rejoining with other blocks replaces its own; gw-b silent for over an hour frees its block.
      await store.join('gw-a', ['10.210.101.0/25'], HOUR, T0 + 1);
      await store.heartbeat('gw-a', T0 + 2 * HOUR);
      await expect(store.join('gw-d', ['10.210.100.128/25'], HOUR, T0 + 2 * HOUR)).resolves.toBeUndefined();
      await expect(store.join('gw-e', ['10.210.101.64/26'], HOUR, T0 + 2 * HOUR)).rejects.toThrow(/gw-a/);
      expect((await store.nodes()).map((n) => [n.node, n.blocks])).toEqual([
        ['gw-a', ['10.210.101.0/25']],
        ['gw-b', ['10.210.100.128/25']],
        ['gw-c', ['fd00:210::1:0/112']],
        ['gw-d', ['10.210.100.128/25']],
      ]);
    });

    it('take: another node takes a session over by its cookie (an event moved); identity and addresses come along', async () => {
      const store = await fresh();
      const s = session({ state: 'connected', ipv4: '10.210.100.130', cookieExpiresAt: undefined });
      await store.insert(s);
      const before = await store.latestSeq();
      const taken = await store.take(s.cookieHash, 'gw-b', '203.0.113.9', HOUR, T0 + 1000);
      expect(taken).toEqual({
        id: s.id,
        cookieHash: s.cookieHash,
        identity: s.identity,
        state: 'connected',
        ipv4: '10.210.100.130',
        node: 'gw-b',
        previousNode: 'gw-a',
        remoteAddress: '203.0.113.9',
        createdAt: T0,
      });
      const events = await store.events(before, 10);
      expect(events).toEqual([
        { seq: expect.any(Number), kind: 'moved', sessionId: s.id, node: 'gw-b', from: 'gw-a' },
      ]);
      // Taken again by its owner: no event.
      await store.take(s.cookieHash, 'gw-b', '203.0.113.9', HOUR, T0 + 2000);
      expect(await store.latestSeq()).toBe(events[0]!.seq);
      expect(await store.take('no-such-hash', 'gw-b', '203.0.113.9', HOUR, T0)).toBeUndefined();
    });

    it('take: refuses what may not resume (closed, past its cookie expiry while not connected, past its lifetime)', async () => {
      const store = await fresh();
      const disconnected = session({
        state: 'disconnected',
        ipv6: 'fd00:210::7',
        createdAt: T0 + 123,
        cookieExpiresAt: T0 + 1000,
      });
      const old = session({ state: 'connected', cookieExpiresAt: undefined });
      const closed = session();
      for (const s of [disconnected, old, closed]) await store.insert(s);
      await store.close({ id: closed.id }, 'disconnected by an administrator', T0 + 300_000);
      // Times come back to the millisecond (the PostgreSQL adapter returns them as epoch ms).
      expect(await store.take(disconnected.cookieHash, 'gw-b', 'x', HOUR, T0 + 999)).toEqual({
        ...disconnected,
        node: 'gw-b',
        remoteAddress: 'x',
        previousNode: 'gw-a',
      });
      expect(await store.take(disconnected.cookieHash, 'gw-b', 'x', HOUR, T0 + 1001)).toBeUndefined();
      expect(await store.take(old.cookieHash, 'gw-b', 'x', HOUR, T0 + HOUR + 1)).toBeUndefined();
      expect(await store.take(closed.cookieHash, 'gw-b', 'x', HOUR, T0)).toBeUndefined();
    });

    it('take: takes asked at once each get the answer one after the other would (a cookie twice: both get the session, the second from this node)', async () => {
      const store = await fresh();
      const live = [1, 2, 3, 4, 5].map((n) =>
        session({ state: 'connected', ipv4: `10.210.100.${130 + n}`, cookieExpiresAt: undefined }),
      );
      const expired = session({ state: 'disconnected', cookieExpiresAt: T0 + 1000 });
      const closed = session();
      for (const s of [...live, expired, closed]) await store.insert(s);
      await store.close({ id: closed.id }, 'disconnected by an administrator', T0 + 300_000);
      const before = await store.latestSeq();
      const asked = [
        ...live.map((s) => s.cookieHash),
        'no-such-hash',
        expired.cookieHash,
        closed.cookieHash,
        live[0]!.cookieHash,
      ];
      const taken = await Promise.all(
        asked.map((hash, i) => store.take(hash, 'gw-b', `203.0.113.${i}`, HOUR, T0 + 2000)),
      );
      expect(taken).toEqual([
        ...live.map((s, i) => ({
          ...s,
          node: 'gw-b',
          remoteAddress: `203.0.113.${i}`,
          previousNode: 'gw-a',
        })),
        undefined,
        undefined,
        undefined,
        { ...live[0]!, node: 'gw-b', remoteAddress: '203.0.113.8', previousNode: 'gw-b' },
      ]);
      const moved = (await store.events(before, 100)).map((e) => (e.kind === 'moved' ? e.sessionId : e.kind));
      expect(moved.sort()).toEqual(live.map((s) => s.id).sort());
      // The row holds the address of the last take.
      const rows = await store.openSessions();
      expect(rows.find((r) => r.id === live[0]!.id)?.remoteAddress).toBe('203.0.113.8');
    });

    it('update: the owner records state and addresses; a node that lost the session changes nothing', async () => {
      const store = await fresh();
      const s = session();
      await store.insert(s);
      await store.update(s.id, 'gw-a', { state: 'connected', ipv4: '10.210.100.5', ipv6: 'fd00:210::5' });
      await store.update(s.id, 'gw-b', { state: 'disconnected', cookieExpiresAt: T0 + 9 });
      expect(await store.openSessions()).toEqual([
        expect.objectContaining({ id: s.id, state: 'connected', ipv4: '10.210.100.5', ipv6: 'fd00:210::5' }),
      ]);
      expect((await store.openSessions())[0]!.cookieExpiresAt).toBeUndefined();
      await store.update(s.id, 'gw-a', { state: 'disconnected', cookieExpiresAt: T0 + 60_000 });
      expect(await store.openSessions()).toEqual([
        expect.objectContaining({
          state: 'disconnected',
          ipv4: '10.210.100.5',
          cookieExpiresAt: T0 + 60_000,
        }),
      ]);
    });

    it('insert, update: asked at once, each as alone (a session written twice at once: the later write wins)', async () => {
      const store = await fresh();
      const [first, second, third] = [1, 2, 3].map((n) => session({ remoteAddress: `198.51.100.${n}` }));
      await Promise.all([first!, second!, third!].map((s) => store.insert(s)));
      await Promise.all([
        store.update(first!.id, 'gw-a', { state: 'connected', ipv4: '10.210.100.1' }),
        store.update(second!.id, 'gw-a', { state: 'connected', ipv4: '10.210.100.2' }),
        // gw-b does not own it: nothing changes
        store.update(third!.id, 'gw-b', { state: 'connected', ipv4: '10.210.100.3' }),
        store.update(first!.id, 'gw-a', { state: 'disconnected', cookieExpiresAt: T0 + 5000 }),
      ]);
      const rows = await store.openSessions();
      const row = (id: string) => rows.find((r) => r.id === id);
      const { cookieExpiresAt: _none, ...connected } = second!;
      expect(row(first!.id)).toEqual({
        ...first,
        state: 'disconnected',
        ipv4: '10.210.100.1',
        cookieExpiresAt: T0 + 5000,
      });
      expect(row(second!.id)).toEqual({ ...connected, state: 'connected', ipv4: '10.210.100.2' });
      expect(row(third!.id)).toEqual(third);
    });

    it('close: by id, by user, by device, wherever they run; an event each; twice closes nothing', async () => {
      const store = await fresh();
      const a = session({ node: 'gw-a' });
      const b = session({ node: 'gw-b' });
      const c = session({
        node: 'gw-b',
        identity: { username: 'bob', groups: [], method: 'token', device: 'tab-2' },
      });
      const d = session({ node: 'gw-a', identity: { username: 'carol', groups: [], method: 'password' } });
      for (const s of [a, b, c, d]) await store.insert(s);
      const before = await store.latestSeq();
      const byUser = await store.close({ user: 'alice' }, 'revoked by the cloud', T0 + 300_000);
      expect(byUser.map((r) => [r.id, r.node]).sort()).toEqual(
        [
          [a.id, 'gw-a'],
          [b.id, 'gw-b'],
        ].sort(),
      );
      expect(await store.close({ device: 'tab-2' }, 'revoked by the cloud', T0)).toEqual([
        { id: c.id, node: 'gw-b' },
      ]);
      expect(await store.close({ id: d.id }, 'disconnected by an administrator', T0)).toEqual([
        { id: d.id, node: 'gw-a' },
      ]);
      expect(await store.close({ user: 'alice' }, 'revoked by the cloud', T0)).toEqual([]);
      expect(await store.close({ id: 'not-a-uuid' }, 'revoked by the cloud', T0)).toEqual([]);
      const events = await store.events(before, 10);
      expect(events.map((e) => e.kind)).toEqual(['closed', 'closed', 'closed', 'closed']);
      expect(events.at(-1)).toMatchObject({
        sessionId: d.id,
        node: 'gw-a',
        reason: 'disconnected by an administrator',
      });
      expect(await store.openSessions()).toEqual([]);
    });

    it('bans: made, listed while in force, lifted; each an event, in order', async () => {
      const store = await fresh();
      const before = await store.latestSeq();
      await store.ban({ address: '198.51.100.7', score: 80, until: T0 + 300_000 });
      await store.ban({ address: '2001:db8:0:0:0:0:0:0/64', score: 90, until: T0 + 100_000 });
      expect(await store.bans(T0)).toEqual([
        { address: '2001:db8:0:0:0:0:0:0/64', score: 90, until: T0 + 100_000 },
        { address: '198.51.100.7', score: 80, until: T0 + 300_000 },
      ]);
      expect(await store.bans(T0 + 200_000)).toEqual([
        { address: '198.51.100.7', score: 80, until: T0 + 300_000 },
      ]);
      await store.unban('198.51.100.7');
      expect(await store.bans(T0)).toHaveLength(1);
      const events = await store.events(before, 10);
      expect(events.map((e) => e.kind)).toEqual(['banned', 'banned', 'unbanned']);
      expect(events[0]).toMatchObject({ address: '198.51.100.7', score: 80, until: T0 + 300_000 });
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((x, y) => x - y));
      expect(await store.events(events[1]!.seq, 1)).toEqual([events[2]]);
    });

    it('sweep: bans past their end are removed (a row an unauthenticated address caused lasts only its ban)', async () => {
      const store = await fresh();
      await store.ban({ address: '198.51.100.7', score: 80, until: T0 + 1000 });
      await store.ban({ address: '198.51.100.8', score: 80, until: T0 + 300_000 });
      await store.sweep(T0 + 1000, 300_000, HOUR);
      // Asked as of before either ban ended: only the row still in force is left.
      expect((await store.bans(T0)).map((b) => b.address)).toEqual(['198.51.100.8']);
    });

    it('sweep: a silent node’s sessions and expired cookies close (an event each); ended rows go', async () => {
      const store = await fresh();
      await store.join('gw-a', ['10.210.100.0/25'], HOUR, T0);
      await store.join('gw-b', ['10.210.100.128/25'], HOUR, T0);
      const onA = session({ node: 'gw-a', state: 'connected', cookieExpiresAt: undefined });
      const onB = session({ node: 'gw-b', state: 'connected', cookieExpiresAt: undefined });
      const expired = session({ node: 'gw-a', state: 'disconnected', cookieExpiresAt: T0 + 1000 });
      for (const s of [onA, onB, expired]) await store.insert(s);
      await store.heartbeat('gw-a', T0 + 600_000);
      const before = await store.latestSeq();
      await store.sweep(T0 + 600_000, 300_000, HOUR);
      const events = await store.events(before, 10);
      expect(events.map((e) => (e.kind === 'closed' ? [e.sessionId, e.reason] : e.kind)).sort()).toEqual(
        [
          [onB.id, 'node gone'],
          [expired.id, 'cookie timeout'],
        ].sort(),
      );
      expect((await store.openSessions()).map((s) => s.id)).toEqual([onA.id]);
      // The closed rows are gone once their cookies expired; the events once older than kept.
      await store.sweep(T0 + 600_001, 300_000, 0);
      expect(await store.events(0, 10)).toEqual([]);
      expect(await store.take(onB.cookieHash, 'gw-a', 'x', 10 * HOUR, T0 + 600_001)).toBeUndefined();
    });
  });
}
