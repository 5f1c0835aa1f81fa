import type { Ban } from '../auth/ban-points.js';
import type { Identity } from '../session/identity.js';
import type { SessionState } from '../session/session.js';

/**
 * A session as the nodes of a site share it: enough for any node to resume it from its cookie
 * (user, groups, policy choice, addresses), never the cookie itself (only its SHA-256).
 */
export interface StoredSession {
  readonly id: string;
  readonly cookieHash: string;
  readonly identity: Identity;
  /** The client's address when it last connected (through the balancer: from the PROXY header). */
  readonly remoteAddress: string;
  /** The node that carries its tunnel, or carried it last. */
  readonly node: string;
  readonly state: SessionState;
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** When a session that is not connected stops being resumable (epoch ms). */
  readonly cookieExpiresAt?: number;
}

/**
 * What one node tells the others, in order (`seq`): a session closed (revocation, disconnect,
 * timeout, logout) that its owner must end; a session another node took over (its old tunnel, if
 * still open, must go); a ban made or lifted.
 */
export type SiteEvent =
  | { seq: number; kind: 'closed'; sessionId: string; node: string; reason: string }
  | { seq: number; kind: 'moved'; sessionId: string; node: string; from: string }
  | { seq: number; kind: 'banned'; address: string; score: number; until: number }
  | { seq: number; kind: 'unbanned'; address: string };

/** Which open sessions to close: one id, or every session of a user and/or a device. */
export interface SessionMatch {
  id?: string;
  user?: string;
  device?: string;
}

/**
 * The gateway's shared state of a site (`state.backend: postgres`): sessions with their hashed
 * cookies, bans, the nodes with their pool blocks, and the events the nodes pass each other.
 * Adapters: PostgreSQL (postgres-session-store.ts) for a site, memory (memory-session-store.ts)
 * as the reference; one contract test runs against both.
 */
export interface SessionStore {
  /**
   * Records `node` with its pool blocks (CIDRs). Refuses with OUTPOST_ERR_CONFIG, naming the
   * other node, when a block overlaps one of a node seen within `activeWithinMs`.
   */
  join(node: string, blocks: readonly string[], activeWithinMs: number, now: number): Promise<void>;
  /** Every node's pool blocks (to route another node's block here while its sessions run here). */
  nodes(): Promise<Array<{ node: string; blocks: string[] }>>;
  /** The node is alive (its sessions stay its own; see `sweep`). */
  heartbeat(node: string, now: number): Promise<void>;
  insert(session: StoredSession): Promise<void>;
  /**
   * The open session this cookie names, now owned by `node` (an event `moved` when another node
   * owned it); undefined when unknown, closed, not resumable any more (a disconnected session
   * past its cookie expiry) or older than `maxAgeMs`.
   */
  take(
    cookieHash: string,
    node: string,
    remoteAddress: string,
    maxAgeMs: number,
    now: number,
  ): Promise<(StoredSession & { previousNode: string }) | undefined>;
  /** State and addresses of a session `node` owns (nothing happens when it moved meanwhile). */
  update(
    id: string,
    node: string,
    change: { state: 'connected' | 'disconnected'; ipv4?: string; ipv6?: string; cookieExpiresAt?: number },
  ): Promise<void>;
  /**
   * Closes the matching open sessions, wherever they run (an event `closed` each, which their
   * owner acts on); their cookies stay known, and refused, until `cookieExpiresAt`.
   */
  close(
    match: SessionMatch,
    reason: string,
    cookieExpiresAt: number,
  ): Promise<Array<{ id: string; node: string }>>;
  /** Every session not closed (a starting node resumes its own and holds others' addresses in its blocks). */
  openSessions(): Promise<StoredSession[]>;
  ban(ban: Ban): Promise<void>;
  unban(address: string): Promise<void>;
  /** Bans in force at `now`. */
  bans(now: number): Promise<Ban[]>;
  /** Events after `after`, oldest first, at most `limit`. */
  events(after: number, limit: number): Promise<SiteEvent[]>;
  /** The newest event's seq (0 when none): where a starting node begins to read. */
  latestSeq(): Promise<number>;
  /**
   * Housekeeping any node may run: sessions of nodes silent for `silentNodeMs` are closed (their
   * clients did not come back within a cookie timeout), and so are sessions not connected past
   * their cookie expiry (an event `closed` each); closed sessions past their cookie expiry
   * and events older than `eventsKeptMs` are deleted.
   */
  sweep(now: number, silentNodeMs: number, eventsKeptMs: number): Promise<void>;
}

/** Whether a session (its id and identity) is one `match` names. */
export function sessionMatches(s: { id: string; identity: Identity }, match: SessionMatch): boolean {
  if (match.id !== undefined) return s.id === match.id;
  return (
    (match.user !== undefined && s.identity.username === match.user) ||
    (match.device !== undefined && s.identity.device === match.device)
  );
}
