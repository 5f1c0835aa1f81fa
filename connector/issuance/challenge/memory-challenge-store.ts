import type { ChallengeStore } from '../ports.js';

/** In-memory ChallengeStore for unit tests; the appliance uses the SQLite one in connector/store. */
export class MemoryChallengeStore implements ChallengeStore {
  private readonly oneTime = new Map<string, { expiresAt: Date; profile?: string }>();
  private readonly tokenIds = new Map<string, Date>();

  addOneTime(hash: string, expiresAt: Date, profile?: string): void {
    this.oneTime.set(hash, { expiresAt, ...(profile ? { profile } : {}) });
  }

  consumeOneTime(hash: string, now: Date): { profile?: string } | undefined {
    const entry = this.oneTime.get(hash);
    if (!entry) return undefined;
    this.oneTime.delete(hash);
    if (entry.expiresAt.getTime() <= now.getTime()) return undefined;
    return entry.profile ? { profile: entry.profile } : {};
  }

  consumeTokenId(jti: string, expiresAt: Date, _now: Date): boolean {
    if (this.tokenIds.has(jti)) return false;
    this.tokenIds.set(jti, expiresAt);
    return true;
  }

  purgeExpired(now: Date): number {
    let purged = 0;
    for (const [hash, entry] of this.oneTime) {
      if (entry.expiresAt.getTime() <= now.getTime()) purged += Number(this.oneTime.delete(hash));
    }
    return purged;
  }
}
