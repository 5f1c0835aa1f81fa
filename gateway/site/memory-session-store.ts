import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Ban } from '../auth/ban-points.js';
import { firstOverlap } from './pool-blocks.js';
import {
  type SessionMatch,
  type SessionStore,
  type SiteEvent,
  type StoredSession,
  sessionMatches,
} from './session-store.js';

type Row = StoredSession & { closedAt?: number };

/**
 * The SessionStore in memory: the reference the PostgreSQL adapter is held to by the contract
 * test (session-store.contract.ts), and a site of nodes in one process for unit tests.
 */
export class MemorySessionStore implements SessionStore {
  private readonly nodeTable = new Map<string, { blocks: readonly string[]; seenAt: number }>();
  private readonly sessions = new Map<string, Row>();
  private readonly banTable = new Map<string, Ban>();
  private log: Array<SiteEvent & { at: number }> = [];
  private seq = 0;

  async join(node: string, blocks: readonly string[], activeWithinMs: number, now: number): Promise<void> {
    for (const [other, entry] of this.nodeTable) {
      if (other === node || now - entry.seenAt > activeWithinMs) continue;
      const overlap = firstOverlap(blocks, entry.blocks);
      if (overlap) throw overlapError(node, other, overlap);
    }
    this.nodeTable.set(node, { blocks: [...blocks], seenAt: now });
  }

  async nodes(): Promise<Array<{ node: string; blocks: string[] }>> {
    return [...this.nodeTable.entries()].map(([node, entry]) => ({ node, blocks: [...entry.blocks] }));
  }

  async heartbeat(node: string, now: number): Promise<void> {
    const entry = this.nodeTable.get(node);
    if (entry) entry.seenAt = now;
  }

  async insert(session: StoredSession): Promise<void> {
    this.sessions.set(session.id, { ...session });
  }

  async take(cookieHash: string, node: string, remoteAddress: string, maxAgeMs: number, now: number) {
    const row = [...this.sessions.values()].find((s) => s.cookieHash === cookieHash);
    if (!row || !resumable(row, maxAgeMs, now)) return undefined;
    const taken: Row = { ...row, node, remoteAddress };
    this.sessions.set(row.id, taken);
    if (row.node !== node) this.emit({ kind: 'moved', sessionId: row.id, node, from: row.node });
    return { ...taken, previousNode: row.node };
  }

  async update(
    id: string,
    node: string,
    change: { state: 'connected' | 'disconnected'; ipv4?: string; ipv6?: string; cookieExpiresAt?: number },
  ): Promise<void> {
    const row = this.sessions.get(id);
    if (!row || row.node !== node || row.state === 'closed') return;
    const { cookieExpiresAt: _dropped, ...rest } = row;
    this.sessions.set(id, {
      ...rest,
      state: change.state,
      ...(change.ipv4 !== undefined ? { ipv4: change.ipv4 } : {}),
      ...(change.ipv6 !== undefined ? { ipv6: change.ipv6 } : {}),
      ...(change.state === 'disconnected' && change.cookieExpiresAt !== undefined
        ? { cookieExpiresAt: change.cookieExpiresAt }
        : {}),
    });
  }

  async close(match: SessionMatch, reason: string, cookieExpiresAt: number) {
    const closed: Array<{ id: string; node: string }> = [];
    for (const row of this.sessions.values()) {
      if (row.state === 'closed' || !sessionMatches(row, match)) continue;
      this.sessions.set(row.id, { ...row, state: 'closed', cookieExpiresAt, closedAt: Date.now() });
      this.emit({ kind: 'closed', sessionId: row.id, node: row.node, reason });
      closed.push({ id: row.id, node: row.node });
    }
    return closed;
  }

  async openSessions(): Promise<StoredSession[]> {
    return [...this.sessions.values()].filter((s) => s.state !== 'closed').map(({ closedAt: _c, ...s }) => s);
  }

  async ban(ban: Ban): Promise<void> {
    this.banTable.set(ban.address, { ...ban });
    this.emit({ kind: 'banned', address: ban.address, score: ban.score, until: ban.until });
  }

  async unban(address: string): Promise<void> {
    this.banTable.delete(address);
    this.emit({ kind: 'unbanned', address });
  }

  async bans(now: number): Promise<Ban[]> {
    return [...this.banTable.values()].filter((b) => b.until > now).sort((a, b) => a.until - b.until);
  }

  async events(after: number, limit: number): Promise<SiteEvent[]> {
    return this.log
      .filter((e) => e.seq > after)
      .slice(0, limit)
      .map(({ at: _at, ...event }) => event as SiteEvent);
  }

  async latestSeq(): Promise<number> {
    return this.seq;
  }

  async sweep(now: number, silentNodeMs: number, eventsKeptMs: number): Promise<void> {
    for (const row of [...this.sessions.values()]) {
      const owner = this.nodeTable.get(row.node);
      const silent = owner === undefined || now - owner.seenAt > silentNodeMs;
      const expired = row.state !== 'connected' && (row.cookieExpiresAt ?? now) < now;
      if (row.state !== 'closed' && (silent || expired)) {
        this.sessions.set(row.id, { ...row, state: 'closed', cookieExpiresAt: now, closedAt: now });
        const reason = silent ? 'node gone' : 'cookie timeout';
        this.emit({ kind: 'closed', sessionId: row.id, node: row.node, reason });
      } else if (row.state === 'closed' && (row.cookieExpiresAt ?? 0) <= now) {
        this.sessions.delete(row.id);
      }
    }
    for (const [address, ban] of this.banTable) if (ban.until <= now) this.banTable.delete(address);
    // Event times are the store's own clock (a database's now()), not the caller's.
    const at = Date.now();
    this.log = this.log.filter((e) => at - e.at < eventsKeptMs);
  }

  private emit(event: DistributiveOmit<SiteEvent, 'seq'>): void {
    this.log.push({ ...event, seq: ++this.seq, at: Date.now() } as SiteEvent & { at: number });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Open, within its lifetime, and connected or not yet past its cookie expiry. */
export function resumable(
  row: Pick<StoredSession, 'state' | 'createdAt' | 'cookieExpiresAt'>,
  maxAgeMs: number,
  now: number,
): boolean {
  if (row.state === 'closed' || now - row.createdAt > maxAgeMs) return false;
  return row.state === 'connected' || row.cookieExpiresAt === undefined || row.cookieExpiresAt > now;
}

export function overlapError(node: string, other: string, overlap: { mine: string; theirs: string }) {
  return new OutpostError(
    ErrorCodes.config,
    `gateway pool ${overlap.mine} of node ${node} overlaps ${overlap.theirs} of node ${other}: each node of a site needs its own pool blocks`,
  );
}
