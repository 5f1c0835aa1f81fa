import { hash, randomUUID } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { RandomPool } from '../../core/random-pool.js';
import { isServerDisconnectReason, type ServerDisconnectReason } from '../cstp/index.js';
import { ExpiryHeap } from '../pool/expiry-heap.js';
import type { Identity } from './identity.js';
import type { Session } from './session.js';

/**
 * Why a session ends: a server-side end its live tunnel is told about, or one without a tunnel
 * to tell (the user logged out; a disconnected session's cookie ran out).
 */
export type SessionEndReason = ServerDisconnectReason | 'client logout' | 'cookie timeout';

export interface SessionLimits {
  maxClients: number;
  maxSessionsPerUser: number;
  /** Seconds a disconnected session's cookie stays valid for a reconnect (ocserv cookie-timeout). */
  cookieTimeoutSeconds: number;
  /** Seconds a session may live at most, connected or not. */
  sessionTimeoutSeconds: number;
}

/** One-shot crypto.hash (Node >= 20.12): no Hash object per CONNECT, as createHash made. */
export function hashCookie(cookie: string): string {
  return hash('sha256', cookie, 'hex');
}

/** Cookie bytes: one randomFillSync per 128 logins instead of a randomBytes call each (issue 16). */
const cookieRandom = new RandomPool();

/**
 * Every session of the gateway, found by cookie (hashed), by id, by user and by tunnel address.
 * The address index is what the TUN reader uses for each packet, so it is a plain Map lookup.
 */
export class SessionTable {
  private readonly byCookie = new Map<string, Session>();
  private readonly byId = new Map<string, Session>();
  private readonly byAddress = new Map<string, Session>();
  private readonly perUser = new Map<string, number>();
  /**
   * Every deadline a session was given (its lifetime's end, each cookie expiry), keyed by cookie
   * hash, so that `expire` (once a second) looks only at sessions whose time may be up instead of
   * walking every session: holding tens of thousands of tunnels that walk cost about 1.4 µs per
   * session per second. Entries are never updated in place: a deadline that moved (a reconnect
   * clears the cookie expiry) leaves its old entry, which `expireOne` finds not due when it pops.
   */
  private readonly deadlines = new ExpiryHeap();
  private drain = false;

  constructor(
    private limits: SessionLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  /** New limits apply to sessions created from now on; existing sessions are never cut by them. */
  setLimits(limits: SessionLimits): void {
    const lifetimeChanged = limits.sessionTimeoutSeconds !== this.limits.sessionTimeoutSeconds;
    this.limits = limits;
    // Every session's lifetime ends at a new time (expireOne reads the current limit).
    if (lifetimeChanged)
      for (const [hash, session] of this.byCookie) this.due(hash, this.lifetimeEnd(session));
  }

  /** Drain mode: existing sessions continue, new ones are refused (ocserv's behaviour on reload). */
  setDrain(on: boolean): void {
    this.drain = on;
  }

  /** Creates a session for an authenticated identity; returns it with the cookie to hand out once. */
  create(identity: Identity, remoteAddress: string): { session: Session; cookie: string } {
    if (this.drain) throw new OutpostError(ErrorCodes.busy, 'the gateway is not accepting new sessions');
    this.checkRoom(identity);
    const cookie = cookieRandom.string(32, 'base64url');
    const now = this.clock();
    const session = this.add({
      id: randomUUID(),
      identity,
      remoteAddress,
      cookieHash: hashCookie(cookie),
      createdAt: now,
      state: 'authenticated',
      cookieExpiresAt: now + this.limits.cookieTimeoutSeconds * 1000,
    });
    return { session, cookie };
  }

  /**
   * Takes in a session another node of the site made or carried (gateway/site): the same id,
   * cookie, identity and addresses, disconnected until its CONNECT is answered here. Drain does
   * not refuse it: the client already has a session, the balancer chose this node for it.
   */
  adopt(stored: {
    id: string;
    cookieHash: string;
    identity: Identity;
    remoteAddress: string;
    createdAt: number;
    ipv4?: string;
    ipv6?: string;
  }): Session {
    this.checkRoom(stored.identity);
    const session = this.add({
      id: stored.id,
      identity: stored.identity,
      remoteAddress: stored.remoteAddress,
      cookieHash: stored.cookieHash,
      createdAt: stored.createdAt,
      state: 'disconnected',
      cookieExpiresAt: this.clock() + this.limits.cookieTimeoutSeconds * 1000,
    });
    if (stored.ipv4) session.ipv4 = stored.ipv4;
    if (stored.ipv6) session.ipv6 = stored.ipv6;
    return session;
  }

  /**
   * The session went on on another node of the site: it leaves this table without being ended
   * (no access log, no onClosed, its cookie is looked up in the shared state from now on). Its
   * state reads `closed` so that a late end of its old tunnel changes nothing.
   */
  forget(session: Session): void {
    if (this.byId.get(session.id) !== session) return;
    session.state = 'closed';
    session.disconnect = undefined;
    this.unindexAddress(session);
    this.byId.delete(session.id);
    this.byCookie.delete(session.cookieHash);
    this.countOff(session.identity.username);
  }

  private checkRoom(identity: Identity): void {
    if (this.byId.size >= this.limits.maxClients) throw new OutpostError(ErrorCodes.busy, 'too many clients');
    const userSessions = this.perUser.get(identity.username) ?? 0;
    if (userSessions >= this.limits.maxSessionsPerUser) {
      throw new OutpostError(ErrorCodes.busy, 'too many sessions for this user');
    }
  }

  private add(
    fields: Pick<
      Session,
      'id' | 'identity' | 'remoteAddress' | 'cookieHash' | 'createdAt' | 'state' | 'cookieExpiresAt'
    >,
  ): Session {
    // Field by field, not a spread of `fields`: one object literal shape for every session.
    const session: Session = {
      id: fields.id,
      identity: fields.identity,
      remoteAddress: fields.remoteAddress,
      cookieHash: fields.cookieHash,
      createdAt: fields.createdAt,
      state: fields.state,
      cookieExpiresAt: fields.cookieExpiresAt,
      lastActivity: this.clock(),
      bytesIn: 0,
      bytesOut: 0,
      packetsIn: 0,
      packetsOut: 0,
    };
    this.byCookie.set(session.cookieHash, session);
    this.byId.set(session.id, session);
    this.due(session.cookieHash, this.lifetimeEnd(session));
    if (session.cookieExpiresAt !== undefined) this.due(session.cookieHash, session.cookieExpiresAt);
    this.perUser.set(session.identity.username, (this.perUser.get(session.identity.username) ?? 0) + 1);
    return session;
  }

  private countOff(username: string): void {
    const remaining = (this.perUser.get(username) ?? 1) - 1;
    if (remaining > 0) this.perUser.set(username, remaining);
    else this.perUser.delete(username);
  }

  /** The session a CONNECT's cookie names, if it is still acceptable; else unauthorized (HTTP 401). */
  byCookieValue(cookie: string | undefined): Session {
    const session = this.find(cookie);
    if (!session) throw new OutpostError(ErrorCodes.unauthorized, 'unknown, expired or revoked cookie');
    return session;
  }

  /** byCookieValue without the error: undefined for an unknown, expired or closed session. */
  find(cookie: string | undefined): Session | undefined {
    const session = cookie ? this.byCookie.get(hashCookie(cookie)) : undefined;
    if (session) this.expireOne(session.cookieHash, session, this.clock());
    return session && session.state !== 'closed' ? session : undefined;
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  list(): Session[] {
    return [...this.byId.values()];
  }

  /** The connected session that owns a tunnel address (the TUN reader's per-packet lookup). */
  byTunnelAddress(address: string): Session | undefined {
    return this.byAddress.get(address);
  }

  markConnected(session: Session): void {
    session.state = 'connected';
    session.cookieExpiresAt = undefined;
    session.lastActivity = this.clock();
    if (session.ipv4) this.byAddress.set(session.ipv4, session);
    if (session.ipv6) this.byAddress.set(session.ipv6, session);
  }

  /** The tunnel dropped: keep the session (and its address) for a reconnect within the cookie timeout. */
  markDisconnected(session: Session): void {
    if (session.state === 'closed') return;
    session.state = 'disconnected';
    session.disconnect = undefined;
    session.cookieExpiresAt = this.clock() + this.limits.cookieTimeoutSeconds * 1000;
    this.due(session.cookieHash, session.cookieExpiresAt);
    this.unindexAddress(session);
  }

  /** Ends a session now: its tunnel closes and its cookie is refused from then on. */
  close(session: Session, reason: SessionEndReason): void {
    if (session.state === 'closed') return;
    const disconnect = session.disconnect;
    session.state = 'closed';
    session.disconnect = undefined;
    this.unindexAddress(session);
    this.byId.delete(session.id);
    this.countOff(session.identity.username);
    // The cookie stays known (as closed) until it would have expired, so a retry gets 401, not a new session.
    session.cookieExpiresAt = this.clock() + this.limits.cookieTimeoutSeconds * 1000;
    this.due(session.cookieHash, session.cookieExpiresAt);
    if (isServerDisconnectReason(reason)) disconnect?.(reason);
    this.onClosed?.(session, reason);
  }

  /** Closes every session of a user (or with that device id); returns how many. */
  closeWhere(match: (s: Session) => boolean, reason: SessionEndReason): number {
    const victims = [...this.byId.values()].filter(match);
    for (const session of victims) this.close(session, reason);
    return victims.length;
  }

  /** Called once per session when it ends (access log, address release). */
  onClosed?: (session: Session, reason: string) => void;

  /** Drops sessions past their cookie or session lifetime (the gateway calls this on a timer). */
  expire(): void {
    const now = this.clock();
    // Due means `now` past the deadline, as expireOne judges it; an entry at exactly `now` waits.
    for (
      let next = this.deadlines.peek();
      next !== undefined && next.expiresAt < now;
      next = this.deadlines.peek()
    ) {
      this.deadlines.pop();
      const session = this.byCookie.get(next.key);
      if (session) this.expireOne(next.key, session, now);
    }
  }

  private due(hash: string, at: number): void {
    // One deadline per entry; `generation` is the pool's notion (stale entries are re-checked here instead).
    this.deadlines.push({ expiresAt: at, key: hash, generation: 0 });
  }

  private lifetimeEnd(session: Session): number {
    return session.createdAt + this.limits.sessionTimeoutSeconds * 1000;
  }

  private expireOne(hash: string, session: Session, now: number): void {
    const sessionOver = now > this.lifetimeEnd(session);
    const cookieOver = session.cookieExpiresAt !== undefined && now > session.cookieExpiresAt;
    if (session.state === 'closed' && cookieOver) this.byCookie.delete(hash);
    else if (session.state !== 'closed' && sessionOver) this.close(session, 'session timeout');
    else if (session.state !== 'connected' && session.state !== 'closed' && cookieOver)
      this.close(session, 'cookie timeout');
  }

  get size(): number {
    return this.byId.size;
  }

  private unindexAddress(session: Session): void {
    if (session.ipv4 && this.byAddress.get(session.ipv4) === session) this.byAddress.delete(session.ipv4);
    if (session.ipv6 && this.byAddress.get(session.ipv6) === session) this.byAddress.delete(session.ipv6);
  }
}
