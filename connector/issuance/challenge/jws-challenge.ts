import { randomUUID } from 'node:crypto';
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { scepChallengeClaims } from '../../../link/schema/scep-challenge-claims.js';
import { CHALLENGE_HOLD_MS, tokenIdUseKey } from '../../challenge-use.js';
import type { ChallengeStore } from '../../ports.js';
import type { ChallengeGrant, CsrExpectations } from './expectations.js';

export interface JwsChallengeOptions {
  jwks: JSONWebKeySet;
  store: ChallengeStore;
  clock: () => Date;
  /** Expected `iss`, when configured. */
  issuer?: string;
  /** Expected `aud`; the cloud mints challenges for this audience. */
  audience?: string;
  /** Tolerated clock skew in seconds. */
  clockToleranceSeconds?: number;
}

/** Algorithms a challenge may be signed with; never `none` or HMAC (the JWKS is public). */
const allowedAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

function refused(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.badChallenge, 'challenge password is missing, wrong, expired or used', {
    detail,
    cause,
  });
}

/** Reads the expectation claims (link/schema/scep-challenge-claims.ts): unknown claims are ignored, wrong types refused. */
export function expectationsFromClaims(payload: JWTPayload): CsrExpectations {
  const parsed = scepChallengeClaims.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw refused(`claim ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'malformed'}`);
}

/**
 * Verifies a challenge that is a compact JWS signed by a key of the configured JWKS, offline.
 * `exp` and `jti` are required: a challenge without expiry or id could be replayed forever.
 */
export class JwsChallengeVerifier {
  private readonly keySet: ReturnType<typeof createLocalJWKSet>;

  constructor(private readonly options: JwsChallengeOptions) {
    this.keySet = createLocalJWKSet(options.jwks);
  }

  /** Verifies the token and holds its jti for `holder` (see ChallengeVerifier.verify). */
  async verify(token: string, holder: string = randomUUID()): Promise<ChallengeGrant> {
    const { payload } = await this.verifySignature(token);
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
      throw refused('token has no usable jti');
    }
    const expectations = expectationsFromClaims(payload);
    const expiresAt = new Date((payload.exp as number) * 1000);
    const now = this.options.clock();
    const until = new Date(now.getTime() + CHALLENGE_HOLD_MS);
    if (!(await this.options.store.holdTokenId(payload.jti, holder, now, until))) {
      throw refused(`token ${payload.jti} was already used (or is held by another request)`);
    }
    return {
      kind: 'jws',
      expectations,
      reference: `jti:${payload.jti}`,
      ...(expectations.profile ? { profile: expectations.profile } : {}),
      use: { key: tokenIdUseKey(payload.jti), holder, expiresAt },
    };
  }

  private async verifySignature(token: string) {
    try {
      return await jwtVerify(token, this.keySet, {
        algorithms: allowedAlgorithms,
        currentDate: this.options.clock(),
        requiredClaims: ['exp', 'jti'],
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      });
    } catch (e) {
      const reason = e instanceof joseErrors.JOSEError ? e.code : 'invalid token';
      throw refused(`JWS challenge rejected: ${reason}`, e);
    }
  }
}
