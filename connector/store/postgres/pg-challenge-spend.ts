import type pg from 'pg';
import { challengeTaken, useTarget } from '../../challenge-use.js';
import type { ChallengeUse } from '../../ports.js';

/**
 * Spends a held challenge inside the caller's transaction (the certificate's or the PENDING
 * row's), the PostgreSQL twin of ../challenge-spend.ts. READ COMMITTED is enough, and is what the
 * caller uses: each step is one statement that locks the row it decides on, and a statement that
 * waited for another node's lock re-reads the row once that node committed (PostgreSQL 15
 * §13.2.1). So of two nodes spending one challenge, the second's DELETE finds no row (or its
 * INSERT of the used JWS id finds the first one's), and it throws badChallenge, rolling back.
 */
export async function spendChallenge(client: pg.ClientBase, use: ChallengeUse): Promise<void> {
  const hold = await client.query<{ holder: string }>(
    'SELECT holder FROM challenge_holds WHERE challenge = $1 FOR UPDATE',
    [use.key],
  );
  const holder = hold.rows[0]?.holder;
  if (holder !== undefined && holder !== use.holder)
    throw challengeTaken(`${use.key} is held by another request`);
  const target = useTarget(use);
  const spent =
    target.kind === 'one-time'
      ? await client.query('DELETE FROM one_time_challenges WHERE hash = $1', [target.hash])
      : await client.query(
          'INSERT INTO used_token_ids (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
          [target.jti, use.expiresAt],
        );
  if (spent.rowCount !== 1) throw challengeTaken(`${use.key} was spent by another request`);
  await client.query('DELETE FROM challenge_holds WHERE challenge = $1', [use.key]);
}
