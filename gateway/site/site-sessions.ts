import type { Logger } from 'pino';
import type { Ban } from '../auth/ban-points.js';
import { LogLimiter } from '../control/log-limiter.js';
import type { AddressAllocator } from '../control/ports.js';
import { isServerDisconnectReason } from '../cstp/index.js';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';
import { hashCookie, type SessionEndReason, type SessionTable } from '../session/session-table.js';
import { EventCursor } from './event-cursor.js';
import { inBlocks } from './pool-blocks.js';
import {
  type SessionMatch,
  type SessionStore,
  type SiteEvent,
  type StoredSession,
  sessionMatches,
} from './session-store.js';

/** Routes (and NAT, when on) for another node's pool block while sessions from it run here. */
export interface ForeignRoutes {
  add(block: string): Promise<void>;
  remove(block: string): Promise<void>;
}

export interface SiteSessionsOptions {
  /** This node's name in the site (gateway.nodeName). */
  node: string;
  store: SessionStore;
  table: SessionTable;
  /** This node's pool blocks (the gateway's pool and the groups' own): checked for overlap at start. */
  blocks: readonly string[];
  /** The pools a session's addresses come from (its group's policy). */
  addressesFor: (identity: Identity) => AddressAllocator;
  foreign: ForeignRoutes;
  bans: { importBan(ban: Ban): void; forget(address: string): boolean };
  /** Read at each use: a reconfiguration may change them. */
  limits: () => { cookieTimeoutMs: number; sessionTimeoutMs: number };
  logger: Logger;
  clock?: () => number;
  intervals?: { pollMs?: number; heartbeatMs?: number; sweepMs?: number };
}

/** How long a node may be silent before others treat it as gone for the overlap check: a day. */
const NODE_ACTIVE_MS = 86_400_000;
const EVENTS_KEPT_MS = 3_600_000;
const EVENTS_PER_POLL = 1000;

/**
 * One gateway node's part in a site whose sessions, cookies and bans are shared
 * (`state.backend: postgres`). The session table stays the fast path; this keeps the shared state
 * in step with it and acts on what other nodes did:
 *
 * - a session is written when it is made, before its cookie is handed out, so a CONNECT to any
 *   node finds it; its state and addresses follow as its tunnel comes and goes;
 * - a cookie this node does not know is looked up in the shared state (`resume`) and the session
 *   taken over: same id, user, groups, and its addresses. openconnect gives up a reconnect that
 *   brings another address (cstp.c check_address_sanity: "Reconnect gave different Legacy IP
 *   address", -EPERM), so an address of another node's block is kept and routed here
 *   (`foreign`); when the session comes back to the node of its block, it finds the address
 *   held for it;
 * - events from other nodes: a session closed elsewhere (revocation, `sessions disconnect`) is
 *   ended here if it runs here; a session taken over elsewhere leaves this table (its stale
 *   tunnel ends, its address stays held while the session lives); bans made or lifted elsewhere
 *   apply here;
 * - addresses of this node's blocks that sessions on other nodes carry are held, from start-up
 *   on, so that no new session here is given one of them.
 */
export class SiteSessions {
  private readonly clock: () => number;
  private readonly holds = new Map<string, Identity>();
  /** Other nodes' blocks carried here: sessions per block, and the blocks of each such session. */
  private readonly carried = new Map<string, { count: number; ready: Promise<void> }>();
  private readonly carriedBy = new Map<string, string[]>();
  private siteBlocks: Array<{ node: string; blocks: string[] }> = [];
  private cursor = new EventCursor(0);
  private readonly timers: NodeJS.Timeout[] = [];
  private polling = false;
  private readonly warnings = new LogLimiter();
  /**
   * Sessions taken over while their row already said `connected` (the node that ran them died):
   * with these addresses, their tunnel coming up here changes nothing in the row, so it is not
   * written again (one round trip less per resume of a failover storm).
   */
  private readonly takenConnected = new WeakMap<Session, { ipv4?: string; ipv6?: string }>();

  constructor(private readonly o: SiteSessionsOptions) {
    this.clock = o.clock ?? Date.now;
  }

  get node(): string {
    return this.o.node;
  }

  /**
   * Joins the site (refusing overlapping pool blocks), holds this node's addresses that other
   * nodes' sessions carry, marks its own sessions from a previous run resumable for a cookie
   * timeout, takes in the bans in force, then follows the events.
   */
  async start(): Promise<void> {
    const { store, node } = this.o;
    const now = this.clock();
    await store.join(node, this.o.blocks, NODE_ACTIVE_MS, now);
    // Events from here on are read; what happened before is in the tables read next.
    this.cursor = new EventCursor(await store.latestSeq());
    const { cookieTimeoutMs } = this.o.limits();
    for (const session of await store.openSessions()) {
      if (session.node === node) {
        await store.update(session.id, node, {
          state: 'disconnected',
          cookieExpiresAt: now + cookieTimeoutMs,
        });
      }
      if (session.ipv4 && inBlocks(session.ipv4, this.o.blocks)) this.hold(session);
    }
    for (const ban of await store.bans(now)) this.o.bans.importBan(ban);
    const { pollMs = 500, heartbeatMs = 5000, sweepMs = 30_000 } = this.o.intervals ?? {};
    this.every(pollMs, () => this.poll());
    this.every(heartbeatMs, () => store.heartbeat(node, this.clock()));
    this.every(sweepMs, () => store.sweep(this.clock(), this.o.limits().cookieTimeoutMs, EVENTS_KEPT_MS));
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  /** A session made here: in the shared state before its cookie leaves. */
  async created(session: Session): Promise<void> {
    await this.o.store.insert(this.stored(session));
  }

  /**
   * The session a cookie unknown here names, taken over by this node; undefined when the site
   * does not know it (or it is closed, expired, past its lifetime).
   */
  async resume(cookie: string, remoteAddress: string): Promise<Session | undefined> {
    const { sessionTimeoutMs } = this.o.limits();
    const stored = await this.o.store.take(
      hashCookie(cookie),
      this.o.node,
      remoteAddress,
      sessionTimeoutMs,
      this.clock(),
    );
    if (!stored) return undefined;
    // Two CONNECTs with one cookie at once: the first one's session.
    const present = this.o.table.get(stored.id);
    if (present) return present;
    const session = this.o.table.adopt({ ...stored, remoteAddress });
    this.holds.delete(stored.id);
    if (stored.state === 'connected') this.takenConnected.set(session, addressesOf(stored));
    if (stored.ipv4 && !inBlocks(stored.ipv4, this.o.blocks)) {
      session.foreignBlock = true;
      await this.carry(session.id, addressesOf(stored));
    }
    this.o.logger.info(
      { session: session.id, user: session.identity.username, from: stored.previousNode, ipv4: stored.ipv4 },
      'session resumed from the site',
    );
    return session;
  }

  connected(session: Session): void {
    const taken = this.takenConnected.get(session);
    this.takenConnected.delete(session);
    // take() already moved the row here; state and addresses are what it says.
    if (taken && taken.ipv4 === session.ipv4 && taken.ipv6 === session.ipv6) return;
    this.write(
      this.o.store.update(session.id, this.o.node, {
        state: 'connected',
        ...addressesOf(session),
      }),
    );
  }

  disconnected(session: Session): void {
    this.write(
      this.o.store.update(session.id, this.o.node, {
        state: 'disconnected',
        ...(session.cookieExpiresAt !== undefined ? { cookieExpiresAt: session.cookieExpiresAt } : {}),
      }),
    );
  }

  /** A session ended here: ended for the site (its cookie refused everywhere). */
  closed(session: Session, reason: string): void {
    const until = session.cookieExpiresAt ?? this.clock() + this.o.limits().cookieTimeoutMs;
    this.write(this.o.store.close({ id: session.id }, reason, until));
    if (session.foreignBlock) this.write(this.uncarry(session.id));
  }

  /**
   * `sessions disconnect`, `session.revoke`: ends the matching sessions here and on every other
   * node (through the shared state). Returns how many ended.
   */
  async close(match: SessionMatch, reason: SessionEndReason): Promise<number> {
    const local = this.o.table.closeWhere((s) => sessionMatches(s, match), reason);
    const until = this.clock() + this.o.limits().cookieTimeoutMs;
    const elsewhere = await this.o.store.close(match, reason, until);
    return local + elsewhere.filter((s) => s.node !== this.o.node).length;
  }

  /** A ban made here (ban points): in force on every node. */
  banned(ban: Ban): void {
    this.write(this.o.store.ban(ban));
  }

  unbanned(address: string): void {
    this.write(this.o.store.unban(address));
  }

  /** Reads and applies the events other nodes wrote (every `pollMs`). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const batch = await this.o.store.events(this.cursor.after, EVENTS_PER_POLL);
      for (const event of this.cursor.accept(batch, this.clock())) this.apply(event);
    } finally {
      this.polling = false;
    }
  }

  private apply(event: SiteEvent): void {
    switch (event.kind) {
      case 'closed': {
        const local = this.o.table.get(event.sessionId);
        if (local) {
          this.o.table.close(
            local,
            isServerDisconnectReason(event.reason) ? event.reason : 'disconnected by an administrator',
          );
          return;
        }
        const held = this.holds.get(event.sessionId);
        if (held) {
          this.holds.delete(event.sessionId);
          this.o.addressesFor(held).release(event.sessionId, 0);
        }
        return;
      }
      case 'moved':
        if (event.node !== this.o.node) this.movedAway(event.sessionId, event.node);
        return;
      case 'banned':
        this.o.bans.importBan({ address: event.address, score: event.score, until: event.until });
        return;
      case 'unbanned':
        this.o.bans.forget(event.address);
        return;
    }
  }

  /** Another node took a session over: its tunnel here (stale) ends, its address stays held. */
  private movedAway(sessionId: string, to: string): void {
    const local = this.o.table.get(sessionId);
    if (!local) return;
    const tunnel = local.disconnect;
    this.o.table.forget(local);
    tunnel?.('replaced by a new connection');
    if (local.foreignBlock) this.write(this.uncarry(local.id));
    else if (local.ipv4) this.hold(local);
    this.o.logger.info(
      { session: sessionId, user: local.identity.username, to },
      'session moved to another node',
    );
  }

  /** Routes the blocks of another node's addresses here (once per block, while sessions use it). */
  private async carry(sessionId: string, addresses: { ipv4?: string; ipv6?: string }): Promise<void> {
    const blocks: string[] = [];
    for (const address of [addresses.ipv4, addresses.ipv6]) {
      if (address) blocks.push(await this.blockOf(address));
    }
    this.carriedBy.set(sessionId, blocks);
    for (const block of blocks) {
      let entry = this.carried.get(block);
      if (!entry) {
        // Every session of the block waits for the one route (a failover storm resumes many at once).
        entry = {
          count: 0,
          ready: this.o.foreign.add(block).catch((e: unknown) => {
            this.carried.delete(block);
            throw e;
          }),
        };
        this.carried.set(block, entry);
      }
      entry.count++;
      await entry.ready;
    }
  }

  private async uncarry(sessionId: string): Promise<void> {
    const blocks = this.carriedBy.get(sessionId) ?? [];
    this.carriedBy.delete(sessionId);
    for (const block of blocks) {
      const entry = this.carried.get(block);
      if (!entry || --entry.count > 0) continue;
      this.carried.delete(block);
      await this.o.foreign.remove(block);
    }
  }

  /** The pool block of another node holding `address`; the address alone when no node claims it. */
  private async blockOf(address: string): Promise<string> {
    const find = () => this.siteBlocks.flatMap((n) => n.blocks).find((b) => inBlocks(address, [b]));
    let block = find();
    if (block === undefined) {
      this.siteBlocks = await this.o.store.nodes();
      block = find();
    }
    return block ?? `${address}/${address.includes(':') ? 128 : 32}`;
  }

  /** Keeps a session's address of this node's blocks from being handed to anyone else. */
  private hold(session: Pick<StoredSession, 'id' | 'identity' | 'ipv4' | 'ipv6'>): void {
    const wanted = addressesOf(session);
    const got = this.o.addressesFor(session.identity).allocate(session.id, wanted);
    if (got.ipv4 !== session.ipv4) {
      this.o.addressesFor(session.identity).release(session.id, 0);
      this.o.logger.error(
        { session: session.id, ipv4: session.ipv4 },
        'an address of this node carried by another node is in use here too',
      );
      return;
    }
    this.holds.set(session.id, session.identity);
  }

  private stored(session: Session): StoredSession {
    return {
      id: session.id,
      cookieHash: session.cookieHash,
      identity: session.identity,
      remoteAddress: session.remoteAddress,
      node: this.o.node,
      state: session.state,
      ...addressesOf(session),
      createdAt: session.createdAt,
      ...(session.cookieExpiresAt !== undefined ? { cookieExpiresAt: session.cookieExpiresAt } : {}),
    };
  }

  /** Shared-state writes off the tunnel's path: a failure is logged (once a minute), never thrown. */
  private write(pending: Promise<unknown>): void {
    pending.catch((e: unknown) => {
      if (this.warnings.allow('write')) {
        this.o.logger.warn({ err: e }, 'site state not updated (logged once a minute)');
      }
    });
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      task().catch((e: unknown) => {
        if (this.warnings.allow('task'))
          this.o.logger.warn({ err: e }, 'site state unreachable (logged once a minute)');
      });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

function addressesOf(s: { ipv4?: string | undefined; ipv6?: string | undefined }): {
  ipv4?: string;
  ipv6?: string;
} {
  return { ...(s.ipv4 ? { ipv4: s.ipv4 } : {}), ...(s.ipv6 ? { ipv6: s.ipv6 } : {}) };
}
