import { randomBytes } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { ChallengeStore } from '../ports.js';
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
 * static secret (constant-time), one-time challenge (stored hashed, consumed atomically).
 */
export class ChallengeVerifier {
  constructor(private readonly options: ChallengeVerifierOptions) {}

  async verify(challenge: string | undefined): Promise<ChallengeGrant> {
    if (challenge === undefined || challenge.length === 0) throw refused('no challengePassword in the CSR');
    if (challenge.length > maxChallengeLength) throw refused('challenge too long');
    const { jws, staticChallenge, store, clock, oneTime } = this.options;
    if (jws && compactJwsShape.test(challenge)) return jws.verify(challenge);
    if (staticChallenge !== null && secretsEqual(challenge, staticChallenge)) {
      return { kind: 'static', expectations: {}, reference: 'static' };
    }
    if (!oneTime) throw refused('one-time challenges are disabled');
    const hash = challengeHash(challenge);
    const consumed = store.consumeOneTime(hash, clock());
    if (consumed) {
      return {
        kind: 'one-time',
        expectations: {},
        reference: `otc:${hash.slice(0, 12)}`,
        ...(consumed.profile ? { profile: consumed.profile } : {}),
      };
    }
    throw refused('no configured challenge kind accepted it');
  }

  /** Mints a one-time challenge: 32 random bytes, base64url; only its hash is stored. */
  mintOneTime(ttlSeconds: number, profile?: string): string {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 30 * 24 * 3600) {
      throw new OutpostError(ErrorCodes.badRequest, 'ttl must be between 1 second and 30 days');
    }
    const challenge = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.options.clock().getTime() + ttlSeconds * 1000);
    this.options.store.addOneTime(challengeHash(challenge), expiresAt, profile);
    return challenge;
  }
}
