import type { Statement, Transaction } from 'better-sqlite3';
import { oneTimeUseKey, tokenIdUseKey } from '../challenge-use.js';
import type { ChallengeStore, ChallengeUse } from '../ports.js';
import type { Db } from './database.js';

/**
 * One-time SCEP challenges (stored as SHA-256 hex, never in clear), used JWS ids, and the holds
 * requests take on them until the certificate they pay for is recorded (challenge-spend.ts).
 */
export class SqliteChallengeStore implements ChallengeStore {
  private readonly insertOneTime: Statement;
  private readonly selectOneTime: Statement<[string, number], { profile: string | null }>;
  private readonly selectTokenId: Statement<[string], { jti: string }>;
  private readonly upsertHold: Statement;
  private readonly deleteHold: Statement;
  private readonly purgeOneTime: Statement;
  private readonly purgeTokenIds: Statement;
  private readonly purgeHolds: Statement;
  private readonly holdOneTimeTx: Transaction<
    (hash: string, holder: string, now: Date, until: Date) => { profile?: string } | undefined
  >;
  private readonly holdTokenIdTx: Transaction<
    (jti: string, holder: string, now: Date, until: Date) => boolean
  >;

  constructor(db: Db) {
    this.insertOneTime = db.prepare(
      'INSERT OR REPLACE INTO one_time_challenges (hash, expires_at, profile) VALUES (?, ?, ?)',
    );
    this.selectOneTime = db.prepare(
      'SELECT profile FROM one_time_challenges WHERE hash = ? AND expires_at > ?',
    );
    this.selectTokenId = db.prepare('SELECT jti FROM used_token_ids WHERE jti = ?');
    // Take the hold if nobody has it, it is ours already, or the other holder's time ran out.
    this.upsertHold = db.prepare(`INSERT INTO challenge_holds (challenge, holder, held_until)
      VALUES (@key, @holder, @until)
      ON CONFLICT (challenge) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
      WHERE challenge_holds.holder = excluded.holder OR challenge_holds.held_until <= @now`);
    this.deleteHold = db.prepare('DELETE FROM challenge_holds WHERE challenge = ? AND holder = ?');
    this.purgeOneTime = db.prepare('DELETE FROM one_time_challenges WHERE expires_at <= ?');
    this.purgeTokenIds = db.prepare('DELETE FROM used_token_ids WHERE expires_at <= ?');
    this.purgeHolds = db.prepare('DELETE FROM challenge_holds WHERE held_until <= ?');
    // Check and hold in one IMMEDIATE transaction: two processes cannot both see it free.
    const hold = (key: string, holder: string, now: Date, until: Date) =>
      this.upsertHold.run({ key, holder, until: until.getTime(), now: now.getTime() }).changes === 1;
    this.holdOneTimeTx = db.transaction((hash: string, holder: string, now: Date, until: Date) => {
      const row = this.selectOneTime.get(hash, now.getTime());
      if (!row || !hold(oneTimeUseKey(hash), holder, now, until)) return undefined;
      return row.profile !== null ? { profile: row.profile } : {};
    });
    this.holdTokenIdTx = db.transaction(
      (jti: string, holder: string, now: Date, until: Date) =>
        !this.selectTokenId.get(jti) && hold(tokenIdUseKey(jti), holder, now, until),
    );
  }

  async addOneTime(hash: string, expiresAt: Date, profile?: string): Promise<void> {
    this.insertOneTime.run(hash.toLowerCase(), expiresAt.getTime(), profile ?? null);
  }

  async holdOneTime(
    hash: string,
    holder: string,
    now: Date,
    until: Date,
  ): Promise<{ profile?: string } | undefined> {
    return this.holdOneTimeTx.immediate(hash.toLowerCase(), holder, now, until);
  }

  /** A seen id stays until purged, even if expired: a replayed token is refused either way. */
  async holdTokenId(jti: string, holder: string, now: Date, until: Date): Promise<boolean> {
    return this.holdTokenIdTx.immediate(jti, holder, now, until);
  }

  async release(use: ChallengeUse): Promise<void> {
    this.deleteHold.run(use.key, use.holder);
  }

  async purgeExpired(now: Date): Promise<number> {
    const t = now.getTime();
    return (
      this.purgeOneTime.run(t).changes + this.purgeTokenIds.run(t).changes + this.purgeHolds.run(t).changes
    );
  }
}
