import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import { sourceAddressKey } from './source-address-key.js';

/**
 * ocserv's ban points (ocserv.conf: max-ban-score, ban-reset-time, min-reauth-time,
 * ban-points-wrong-password, ban-points-connection): each failure adds points to the source
 * address; at `maxScore` the address is refused for `banSeconds`; a score not touched for
 * `resetSeconds` starts again from zero. Defaults are ocserv's.
 */
export interface BanPointsConfig {
  /** 0 disables banning (ocserv: max-ban-score = 0). */
  maxScore: number;
  resetSeconds: number;
  banSeconds: number;
  points: Record<FailureKind, number>;
  /** Table bound (DESIGN rule 4): beyond it the stalest unbanned entries are forgotten first. */
  maxEntries: number;
  ipv6PrefixBits: number;
}

export type FailureKind = 'wrongPassword' | 'badToken' | 'badCertificate' | 'connection';

export const DEFAULT_BAN_POINTS: BanPointsConfig = {
  maxScore: 80,
  resetSeconds: 1200,
  banSeconds: 300,
  points: { wrongPassword: 10, badToken: 10, badCertificate: 10, connection: 1 },
  maxEntries: 100_000,
  ipv6PrefixBits: 64,
};

interface Score {
  score: number;
  touchedAt: number;
  bannedUntil: number;
}

/** A ban in force, as operators see it (`outpost sessions bans`). */
export interface Ban {
  /** The source address key: an IPv4 address, or an IPv6 prefix such as `2001:db8:0:0:0:0:0:0/64`. */
  readonly address: string;
  readonly score: number;
  /** Epoch milliseconds. */
  readonly until: number;
}

/** Told once when an address becomes banned (not again while the ban lasts). */
export type BanListener = (ban: Ban) => void;

export class BanPoints {
  private readonly config: BanPointsConfig;
  /** Insertion order = least recently touched first (an entry is re-inserted on every change). */
  private readonly table = new Map<string, Score>();

  private listener: BanListener | undefined;

  constructor(
    config: Partial<BanPointsConfig> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.config = {
      ...DEFAULT_BAN_POINTS,
      ...config,
      points: { ...DEFAULT_BAN_POINTS.points, ...config.points },
    };
  }

  get size(): number {
    return this.table.size;
  }

  /** Seconds until the ban on `address` ends, or 0 when it may try. */
  bannedFor(address: string): number {
    const entry = this.current(sourceAddressKey(address, this.config.ipv6PrefixBits));
    if (!entry) return 0;
    return Math.max(0, Math.ceil((entry.bannedUntil - this.now()) / 1000));
  }

  /** Throws OutpostError busy when `address` is banned; call before doing any work for it. */
  assertAllowed(address: string): void {
    const seconds = this.bannedFor(address);
    if (seconds > 0) {
      throw new OutpostError(ErrorCodes.busy, 'too many failed attempts, try again later', {
        detail: `${address} banned for ${seconds} s more`,
      });
    }
  }

  /** Adds the points of one failure; returns true when the address is now banned. */
  addFailure(address: string, kind: FailureKind): boolean {
    if (this.config.maxScore <= 0) return false;
    const key = sourceAddressKey(address, this.config.ipv6PrefixBits);
    const now = this.now();
    const entry = this.current(key) ?? { score: 0, touchedAt: now, bannedUntil: 0 };
    entry.score += this.config.points[kind];
    entry.touchedAt = now;
    if (entry.score >= this.config.maxScore && entry.bannedUntil <= now) {
      entry.bannedUntil = now + this.config.banSeconds * 1000;
      this.listener?.({ address: key, score: entry.score, until: entry.bannedUntil });
    }
    this.table.delete(key);
    this.table.set(key, entry);
    this.evict();
    return entry.bannedUntil > now;
  }

  /**
   * A ban another node of the site made (gateway/site): in force here too until it ends. The
   * listener is not told: it was told on the node that made it.
   */
  importBan(ban: Ban): void {
    const now = this.now();
    if (ban.until <= now) return;
    const entry = this.table.get(ban.address) ?? { score: 0, touchedAt: now, bannedUntil: 0 };
    entry.score = Math.max(entry.score, ban.score);
    entry.touchedAt = now;
    entry.bannedUntil = Math.max(entry.bannedUntil, ban.until);
    this.table.delete(ban.address);
    this.table.set(ban.address, entry);
    this.evict();
  }

  /** Forget an address (an operator unban); true when it had a score or a ban. */
  forget(address: string): boolean {
    return this.table.delete(sourceAddressKey(address, this.config.ipv6PrefixBits));
  }

  /** Sets the one listener told of each new ban (the gateway logs it). */
  onBan(listener: BanListener): void {
    this.listener = listener;
  }

  /** The bans in force now, soonest to end first. */
  bans(): Ban[] {
    const now = this.now();
    const out: Ban[] = [];
    for (const [address, entry] of this.table) {
      if (entry.bannedUntil > now) out.push({ address, score: entry.score, until: entry.bannedUntil });
    }
    return out.sort((a, b) => a.until - b.until);
  }

  /**
   * Runs one authentication attempt for `address`: refused while banned, and points added when
   * it fails with unauthorized (not when a dependency was unavailable: that is not the client's doing).
   */
  async guard<T>(address: string, kind: FailureKind, attempt: () => Promise<T>): Promise<T> {
    this.assertAllowed(address);
    try {
      return await attempt();
    } catch (e) {
      if (isOutpostError(e) && e.code === ErrorCodes.unauthorized) this.addFailure(address, kind);
      throw e;
    }
  }

  /** The entry if it still counts: scores expire after resetSeconds of quiet, bans when they end. */
  private current(key: string): Score | undefined {
    const entry = this.table.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.bannedUntil <= now && now - entry.touchedAt >= this.config.resetSeconds * 1000) {
      this.table.delete(key);
      return undefined;
    }
    return entry;
  }

  private evict(): void {
    if (this.table.size <= this.config.maxEntries) return;
    const now = this.now();
    // First choice: the least recently touched entry that is not banned; else the oldest of all.
    for (const [key, entry] of this.table) {
      if (this.table.size <= this.config.maxEntries) return;
      if (entry.bannedUntil <= now) this.table.delete(key);
    }
    for (const key of this.table.keys()) {
      if (this.table.size <= this.config.maxEntries) return;
      this.table.delete(key);
    }
  }
}
