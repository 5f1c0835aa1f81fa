import type { Statement } from 'better-sqlite3';
import type { ChallengeStore } from '../issuance/ports.js';
import type { Db } from './database.js';

/** One-time SCEP challenges (stored as SHA-256 hex, never in clear) and used JWS ids. */
export class SqliteChallengeStore implements ChallengeStore {
  private readonly insertOneTime: Statement;
  private readonly deleteOneTime: Statement<[string, number], { profile: string | null }>;
  private readonly insertTokenId: Statement;
  private readonly purgeOneTime: Statement;
  private readonly purgeTokenIds: Statement;

  constructor(db: Db) {
    this.insertOneTime = db.prepare(
      'INSERT OR REPLACE INTO one_time_challenges (hash, expires_at, profile) VALUES (?, ?, ?)',
    );
    // DELETE … RETURNING makes "check and consume" one statement: two concurrent SCEP requests with
    // the same challenge cannot both succeed.
    this.deleteOneTime = db.prepare(
      'DELETE FROM one_time_challenges WHERE hash = ? AND expires_at > ? RETURNING profile',
    );
    this.insertTokenId = db.prepare('INSERT OR IGNORE INTO used_token_ids (jti, expires_at) VALUES (?, ?)');
    this.purgeOneTime = db.prepare('DELETE FROM one_time_challenges WHERE expires_at <= ?');
    this.purgeTokenIds = db.prepare('DELETE FROM used_token_ids WHERE expires_at <= ?');
  }

  addOneTime(hash: string, expiresAt: Date, profile?: string): void {
    this.insertOneTime.run(hash.toLowerCase(), expiresAt.getTime(), profile ?? null);
  }

  consumeOneTime(hash: string, now: Date): { profile?: string } | undefined {
    const row = this.deleteOneTime.get(hash.toLowerCase(), now.getTime());
    if (!row) return undefined;
    return row.profile !== null ? { profile: row.profile } : {};
  }

  /** A seen id stays until purged, even if expired: a replayed token is refused either way. */
  consumeTokenId(jti: string, expiresAt: Date, _now: Date): boolean {
    return this.insertTokenId.run(jti, expiresAt.getTime()).changes === 1;
  }

  purgeExpired(now: Date): number {
    const t = now.getTime();
    return this.purgeOneTime.run(t).changes + this.purgeTokenIds.run(t).changes;
  }
}
