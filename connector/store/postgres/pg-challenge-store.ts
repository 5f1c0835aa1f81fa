import { oneTimeUseKey, tokenIdUseKey } from '../../challenge-use.js';
import type { ChallengeStore, ChallengeUse } from '../../ports.js';
import type { PostgresState } from './pg-state.js';

/**
 * Take the hold if nobody has it, it is ours already, or the other holder's time ran out. One
 * INSERT … ON CONFLICT DO UPDATE … WHERE: the conflicting row is locked and the WHERE re-checked
 * after a concurrent node's commit, so of two nodes holding one challenge only one gets a row
 * back, under READ COMMITTED ($1 key, $2 holder, $3 until, $4 now).
 */
const TAKE_HOLD = `ON CONFLICT (challenge) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
  WHERE challenge_holds.holder = excluded.holder OR challenge_holds.held_until <= $4
  RETURNING 1`;

/**
 * One-time SCEP challenges (SHA-256 hex, never in clear), used JWS ids and the holds on them, for
 * a site on PostgreSQL: a challenge is held by one request on one node at a time and spent once
 * across the nodes (pg-challenge-spend.ts).
 */
export class PgChallengeStore implements ChallengeStore {
  constructor(private readonly state: PostgresState) {}

  async addOneTime(hash: string, expiresAt: Date, profile?: string): Promise<void> {
    await this.state.query(
      `INSERT INTO one_time_challenges (hash, expires_at, profile) VALUES ($1, $2, $3)
       ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at, profile = excluded.profile`,
      [hash.toLowerCase(), expiresAt, profile ?? null],
      { idempotent: true },
    );
  }

  async holdOneTime(
    hash: string,
    holder: string,
    now: Date,
    until: Date,
  ): Promise<{ profile?: string } | undefined> {
    const lower = hash.toLowerCase();
    const { rows } = await this.state.query<{ profile: string | null }>(
      `WITH challenge AS (SELECT profile FROM one_time_challenges WHERE hash = $5 AND expires_at > $4),
       held AS (INSERT INTO challenge_holds (challenge, holder, held_until)
         SELECT $1, $2, $3 FROM challenge ${TAKE_HOLD})
       SELECT challenge.profile FROM challenge, held`,
      [oneTimeUseKey(lower), holder, until, now, lower],
    );
    const row = rows[0];
    if (!row) return undefined;
    return row.profile !== null ? { profile: row.profile } : {};
  }

  /** A seen id stays until purged, even if expired: a replayed token is refused either way. */
  async holdTokenId(jti: string, holder: string, now: Date, until: Date): Promise<boolean> {
    const { rowCount } = await this.state.query(
      `INSERT INTO challenge_holds (challenge, holder, held_until)
       SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM used_token_ids WHERE jti = $5) ${TAKE_HOLD}`,
      [tokenIdUseKey(jti), holder, until, now, jti],
    );
    return rowCount === 1;
  }

  async release(use: ChallengeUse): Promise<void> {
    await this.state.query(
      'DELETE FROM challenge_holds WHERE challenge = $1 AND holder = $2',
      [use.key, use.holder],
      {
        idempotent: true,
      },
    );
  }

  async purgeExpired(now: Date): Promise<number> {
    let purged = 0;
    for (const sql of [
      'DELETE FROM one_time_challenges WHERE expires_at <= $1',
      'DELETE FROM used_token_ids WHERE expires_at <= $1',
      'DELETE FROM challenge_holds WHERE held_until <= $1',
    ]) {
      purged += (await this.state.query(sql, [now], { idempotent: true })).rowCount ?? 0;
    }
    return purged;
  }
}
