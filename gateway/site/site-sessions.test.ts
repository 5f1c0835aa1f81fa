import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import { BanPoints } from '../auth/ban-points.js';
import type { AddressAllocator } from '../control/ports.js';
import { AddressPool } from '../pool/address-pool.js';
import type { Session } from '../session/session.js';
import { SessionTable } from '../session/session-table.js';
import { MemorySessionStore } from './memory-session-store.js';
import { SiteSessions } from './site-sessions.js';

const silent = pino({ level: 'silent' });
const identity = {
  username: 'alice',
  groups: ['Devices'],
  method: 'certificate' as const,
  device: 'phone-1',
};
const started: SiteSessions[] = [];

afterEach(() => {
  for (const site of started.splice(0)) site.stop();
});

/** One gateway node of a site: its session table, its pool block, its bans, its carried blocks. */
async function node(name: string, block: string, store: MemorySessionStore) {
  const table = new SessionTable({
    maxClients: 100,
    maxSessionsPerUser: 10,
    cookieTimeoutSeconds: 300,
    sessionTimeoutSeconds: 3600,
  });
  const pool = new AddressPool(block);
  const addresses: AddressAllocator = {
    allocate: (id, preferred) => ({
      ipv4: pool.allocate(id, preferred?.ipv4 ? { preferred: preferred.ipv4 } : {}).address,
    }),
    release: (id, keepMs) => pool.release(id, { keepForMs: keepMs }),
  };
  const bans = new BanPoints();
  const carried: string[] = [];
  const site = new SiteSessions({
    node: name,
    store,
    table,
    blocks: [block],
    addressesFor: () => addresses,
    foreign: {
      add: async (b) => void carried.push(`+${b}`),
      remove: async (b) => void carried.push(`-${b}`),
    },
    bans,
    limits: () => ({ cookieTimeoutMs: 300_000, sessionTimeoutMs: 3_600_000 }),
    logger: silent,
    intervals: { pollMs: 3_600_000, heartbeatMs: 3_600_000, sweepMs: 3_600_000 },
  });
  await site.start();
  started.push(site);
  // What GatewayServer does on each end of a session.
  table.onClosed = (session, reason) => {
    addresses.release(session.id, 0);
    site.closed(session, reason);
  };
  /** A login here, then its tunnel up (what the dialogue and CONNECT do). */
  const login = async () => {
    const { session, cookie } = table.create(identity, '198.51.100.7');
    await site.created(session);
    return { session, cookie, connect: () => connect(session) };
  };
  const connect = (session: Session) => {
    // As GatewayServer: another node's address stays as it is (its block is carried here).
    if (!session.foreignBlock) session.ipv4 = addresses.allocate(session.id, { ipv4: session.ipv4 }).ipv4;
    table.markConnected(session);
    site.connected(session);
    return session.ipv4;
  };
  return { site, table, pool, bans, carried, login, connect };
}

/** A session made and connected on gw-a, then resumed and connected on gw-b. */
async function movedFromAToB() {
  const store = new MemorySessionStore();
  const a = await node('gw-a', '10.210.100.0/25', store);
  const b = await node('gw-b', '10.210.100.128/25', store);
  const login = await a.login();
  const address = login.connect();
  b.connect((await b.site.resume(login.cookie, 'x'))!);
  return { store, a, b, login, address };
}

describe('SiteSessions: two nodes of a site over one shared store', () => {
  it('resumes a session on another node with its cookie: same session, same address (its block carried)', async () => {
    const store = new MemorySessionStore();
    const a = await node('gw-a', '10.210.100.0/25', store);
    const b = await node('gw-b', '10.210.100.128/25', store);
    const login = await a.login();
    const address = login.connect();
    expect(address).toBe('10.210.100.2');

    const resumed = await b.site.resume(login.cookie, '203.0.113.9');
    expect(resumed).toMatchObject({ id: login.session.id, identity, ipv4: address, foreignBlock: true });
    expect(resumed?.remoteAddress).toBe('203.0.113.9');
    expect(b.carried).toEqual(['+10.210.100.0/25']);
    expect(b.connect(resumed!)).toBe(address);

    // gw-a learns the session moved: out of its table, its address held for it.
    await a.site.poll();
    expect(a.table.get(login.session.id)).toBeUndefined();
    expect(a.pool.stats().active).toBe(1);
    const other = await a.login();
    expect(other.connect()).not.toBe(address);

    // It ends on gw-b: the carried block goes, gw-a frees the address.
    b.table.close(resumed!, 'client logout');
    await a.site.poll();
    expect(b.carried).toEqual(['+10.210.100.0/25', '-10.210.100.0/25']);
    expect(a.pool.stats().active).toBe(1); // `other` only
    expect(await a.site.resume(login.cookie, 'x')).toBeUndefined();
  });

  it('a session back on the node of its block finds its address held for it', async () => {
    const { a, b, login, address } = await movedFromAToB();
    await a.site.poll();
    const back = await a.site.resume(login.cookie, 'y');
    expect(back?.foreignBlock).toBeUndefined();
    expect(a.connect(back!)).toBe(address);
    await b.site.poll();
    expect(b.table.size).toBe(0);
    expect(b.carried).toEqual(['+10.210.100.0/25', '-10.210.100.0/25']);
  });

  it('a session taken over while its row says connected is not written again when its tunnel comes up as it was', async () => {
    const store = new MemorySessionStore();
    const a = await node('gw-a', '10.210.100.0/25', store);
    const b = await node('gw-b', '10.210.100.128/25', store);
    const update = vi.spyOn(store, 'update');
    const login = await a.login();
    login.connect();
    expect(update).toHaveBeenCalledTimes(1);
    // gw-a died with the tunnel up: the row says connected, take() moves it to gw-b.
    const resumed = (await b.site.resume(login.cookie, 'x'))!;
    b.connect(resumed);
    expect(update).toHaveBeenCalledTimes(1);
    expect((await store.openSessions())[0]).toMatchObject({
      node: 'gw-b',
      state: 'connected',
      ipv4: resumed.ipv4,
    });

    // Its tunnel drops and comes back on gw-b: both written, as always.
    b.table.markDisconnected(resumed);
    b.site.disconnected(resumed);
    b.connect(resumed);
    // It drops again and the client comes back through gw-a: the row says disconnected, so the
    // tunnel coming up there is written.
    b.table.markDisconnected(resumed);
    b.site.disconnected(resumed);
    a.connect((await a.site.resume(login.cookie, 'y'))!);
    expect(update.mock.calls.map((c) => `${c[1]} ${c[2].state}`)).toEqual([
      'gw-a connected',
      'gw-b disconnected',
      'gw-b connected',
      'gw-b disconnected',
      'gw-a connected',
    ]);
  });

  it('revocation and disconnect reach the node that runs the session; its cookie is refused everywhere', async () => {
    const store = new MemorySessionStore();
    const a = await node('gw-a', '10.210.100.0/25', store);
    const b = await node('gw-b', '10.210.100.128/25', store);
    const login = await a.login();
    login.connect();
    const ended: string[] = [];
    const onClosed = a.table.onClosed!;
    a.table.onClosed = (s, reason) => {
      ended.push(reason);
      onClosed(s, reason);
    };
    expect(await b.site.close({ user: 'alice' }, 'revoked by the cloud')).toBe(1);
    await a.site.poll();
    expect(ended).toEqual(['revoked by the cloud']);
    expect(a.table.size).toBe(0);
    expect(await b.site.resume(login.cookie, 'x')).toBeUndefined();
    expect(await a.site.close({ user: 'alice' }, 'revoked by the cloud')).toBe(0);
  });

  it('a ban made on one node holds on the other; lifting it too', async () => {
    const store = new MemorySessionStore();
    const a = await node('gw-a', '10.210.100.0/25', store);
    const b = await node('gw-b', '10.210.100.128/25', store);
    a.bans.onBan((ban) => a.site.banned(ban));
    for (let i = 0; i < 8; i++) a.bans.addFailure('192.0.2.44', 'wrongPassword');
    await b.site.poll();
    expect(b.bans.bannedFor('192.0.2.44')).toBeGreaterThan(0);
    expect(b.bans.bannedFor('192.0.2.45')).toBe(0);
    a.site.unbanned('192.0.2.44');
    await b.site.poll();
    expect(b.bans.bannedFor('192.0.2.44')).toBe(0);
    // A node starting later takes in the bans in force.
    a.bans.addFailure('192.0.2.46', 'wrongPassword');
    for (let i = 0; i < 7; i++) a.bans.addFailure('192.0.2.46', 'wrongPassword');
    const c = await node('gw-c', '10.210.101.0/25', store);
    expect(c.bans.bannedFor('192.0.2.46')).toBeGreaterThan(0);
  });

  it('refuses to start a node whose pool overlaps another node’s', async () => {
    const store = new MemorySessionStore();
    await node('gw-a', '10.210.100.0/25', store);
    await expect(node('gw-b', '10.210.100.64/26', store)).rejects.toMatchObject({ code: ErrorCodes.config });
  });

  it('a restarted node holds the addresses of its block that sessions elsewhere carry', async () => {
    const { store, a, login, address } = await movedFromAToB();
    a.site.stop();
    const restarted = await node('gw-a', '10.210.100.0/25', store);
    const fresh = await restarted.login();
    expect(fresh.connect()).not.toBe(address);
    expect(restarted.pool.ownerOf(address!)).toBe(login.session.id);
  });
});
