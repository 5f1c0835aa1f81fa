import { oneTimeUseKey, tokenIdUseKey } from '../../../challenge-use.js';
import type { ChallengeStore, ChallengeUse } from '../../../ports.js';

/**
 * In-memory ChallengeStore for unit tests; the appliance uses the SQLite one in connector/store,
 * whose inventory and pending store also spend the holds (nothing here spends them).
 */
export class MemoryChallengeStore implements ChallengeStore {
  private readonly oneTime = new Map<string, { expiresAt: Date; profile?: string }>();
  private readonly tokenIds = new Map<string, Date>();
  private readonly holds = new Map<string, { holder: string; until: Date }>();

  async addOneTime(hash: string, expiresAt: Date, profile?: string): Promise<void> {
    this.oneTime.set(hash, { expiresAt, ...(profile ? { profile } : {}) });
  }

  async holdOneTime(
    hash: string,
    holder: string,
    now: Date,
    until: Date,
  ): Promise<{ profile?: string } | undefined> {
    const entry = this.oneTime.get(hash);
    if (!entry || entry.expiresAt.getTime() <= now.getTime()) return undefined;
    if (!this.hold(oneTimeUseKey(hash), holder, now, until)) return undefined;
    return entry.profile ? { profile: entry.profile } : {};
  }

  async holdTokenId(jti: string, holder: string, now: Date, until: Date): Promise<boolean> {
    return !this.tokenIds.has(jti) && this.hold(tokenIdUseKey(jti), holder, now, until);
  }

  async release(use: ChallengeUse): Promise<void> {
    if (this.holds.get(use.key)?.holder === use.holder) this.holds.delete(use.key);
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const [hash, entry] of this.oneTime) {
      if (entry.expiresAt.getTime() <= now.getTime()) purged += Number(this.oneTime.delete(hash));
    }
    return purged;
  }

  private hold(key: string, holder: string, now: Date, until: Date): boolean {
    const current = this.holds.get(key);
    if (current && current.holder !== holder && current.until.getTime() > now.getTime()) return false;
    this.holds.set(key, { holder, until });
    return true;
  }
}
