import { randomBytes, randomUUID } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { CHALLENGE_HOLD_MS, oneTimeUseKey } from '../../challenge-use.js';
import type { ChallengeStore, ChallengeUse } from '../../ports.js';
import { challengeHash, secretsEqual } from './constant-time.js';
import type { ChallengeGrant } from './expectations.js';
import type { JwsChallengeVerifier } from './jws-challenge.js';

export interface ChallengeVerifierOptions {
  /** A shared static challenge (standalone mode); null disables it. */
  staticChallenge: string | null;
  store: ChallengeStore;
  /** Accept one-time challenges minted with `outpost scep challenge`. */
  oneTime: boolean;
  /** Verifier for challenges that are compact JWS tokens; absent when no JWKS is configured. */
  jws?: JwsChallengeVerifier;
  clock: () => Date;
}

/** A compact JWS is three base64url segments separated by dots (RFC 7515 §7.1). */
const compactJwsShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const maxChallengeLength = 8192;

function refused(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.badChallenge, 'challenge password is missing, wrong, expired or used', {
    detail,
  });
}

/**
 * Checks a SCEP challengePassword against every configured kind: JWS token (single use by jti),
 * static secret (constant-time), one-time challenge (stored hashed). Single-use kinds are held
 * atomically here and spent with the certificate they pay for (issue 11 #3).
 */
export class ChallengeVerifier {
  constructor(private readonly options: ChallengeVerifierOptions) {}

  /**
   * Checks the challenge and, for single-use kinds, holds it for `holder` (the request's
   * transaction id) rather than spending it: the write that records the certificate or the
   * PENDING row spends it (grant.use), and `release` gives it back when the request is refused.
   * Without a holder, the hold belongs to this call alone.
   */
  async verify(challenge: string | undefined, holder: string = randomUUID()): Promise<ChallengeGrant> {
    if (challenge === undefined || challenge.length === 0) throw refused('no challengePassword in the CSR');
    if (challenge.length > maxChallengeLength) throw refused('challenge too long');
    const { jws, staticChallenge, store, clock, oneTime } = this.options;
    if (jws && compactJwsShape.test(challenge)) return jws.verify(challenge, holder);
    if (staticChallenge !== null && secretsEqual(challenge, staticChallenge)) {
      return { kind: 'static', expectations: {}, reference: 'static' };
    }
    if (!oneTime) throw refused('one-time challenges are disabled');
    const hash = challengeHash(challenge);
    const now = clock();
    const until = new Date(now.getTime() + CHALLENGE_HOLD_MS);
    const held = await store.holdOneTime(hash, holder, now, until);
    if (held) {
      return {
        kind: 'one-time',
        expectations: {},
        reference: `otc:${hash.slice(0, 12)}`,
        ...(held.profile ? { profile: held.profile } : {}),
        use: { key: oneTimeUseKey(hash), holder, expiresAt: until },
      };
    }
    throw refused('no configured challenge kind accepted it (or it is used, or held by another request)');
  }

  /** Gives a held challenge back (the request it was held for was refused). */
  release(use: ChallengeUse): Promise<void> {
    return this.options.store.release(use);
  }

  /** Mints a one-time challenge: 32 random bytes, base64url; only its hash is stored. */
  async mintOneTime(ttlSeconds: number, profile?: string): Promise<string> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 30 * 24 * 3600) {
      throw new OutpostError(ErrorCodes.badRequest, 'ttl must be between 1 second and 30 days');
    }
    const challenge = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.options.clock().getTime() + ttlSeconds * 1000);
    await this.options.store.addOneTime(challengeHash(challenge), expiresAt, profile);
    return challenge;
  }
}
