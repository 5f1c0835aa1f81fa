import type { Statement } from 'better-sqlite3';
import { challengeTaken, useTarget } from '../challenge-use.js';
import type { ChallengeUse } from '../ports.js';
import type { Db } from './database.js';

/**
 * Spends a held challenge inside the caller's transaction (the inventory's or the pending
 * store's), so the challenge is gone exactly when the certificate or PENDING row it paid for
 * exists (issue 11 #3). Throws badChallenge, rolling the caller's transaction back, when the
 * challenge was spent meanwhile or another request holds it now (ours expired and was taken).
 */
export class ChallengeSpender {
  private readonly selectHolder: Statement<[string], { holder: string }>;
  private readonly deleteHold: Statement;
  private readonly deleteOneTime: Statement;
  private readonly insertTokenId: Statement;

  constructor(db: Db) {
    this.selectHolder = db.prepare('SELECT holder FROM challenge_holds WHERE challenge = ?');
    this.deleteHold = db.prepare('DELETE FROM challenge_holds WHERE challenge = ?');
    this.deleteOneTime = db.prepare('DELETE FROM one_time_challenges WHERE hash = ?');
    this.insertTokenId = db.prepare('INSERT OR IGNORE INTO used_token_ids (jti, expires_at) VALUES (?, ?)');
  }

  spend(use: ChallengeUse): void {
    const hold = this.selectHolder.get(use.key);
    if (hold && hold.holder !== use.holder) throw challengeTaken(`${use.key} is held by another request`);
    const target = useTarget(use);
    const spent =
      target.kind === 'one-time'
        ? this.deleteOneTime.run(target.hash).changes
        : this.insertTokenId.run(target.jti, use.expiresAt.getTime()).changes;
    if (spent !== 1) throw challengeTaken(`${use.key} was spent by another request`);
    this.deleteHold.run(use.key);
  }
}
