import { randomUUID } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import type { ScepChallengeClaims } from '../../link/schema/scep-challenge-claims.js';
import type { SigningKey } from './signing-key.js';

/** The claims a challenge pins (link/schema/scep-challenge-claims.ts) and its lifetime. */
export interface ScepChallengeRequest extends ScepChallengeClaims {
  ttlSeconds: number;
}

export interface UserTokenRequest {
  sub: string;
  claims?: Record<string, unknown>;
  audience: string;
  /** The gateway's `auth.token.usernameClaim`; set to `sub` unless `claims` carries it. */
  usernameClaim: string;
  ttlSeconds: number;
}

export interface IssuedToken {
  id: string;
  token: string;
  expiresAt: Date;
}

/** The audience of SCEP challenges (the connector may check it; see jws-challenge.ts). */
export const SCEP_CHALLENGE_AUDIENCE = 'outpost-scep';

/**
 * Mints compact JWS (ES256) tokens with the cloud's signing key: SCEP challenges whose claims are
 * those of link/schema/scep-challenge-claims.ts, which the connector reads (+ exp and a unique jti), and user tokens for the gateway's bearer
 * auth (iss, aud, exp, sub, the username claim).
 */
export class TokenIssuer {
  constructor(
    private readonly key: SigningKey,
    readonly issuer: string,
    private readonly clock: () => Date,
  ) {}

  scepChallenge(request: ScepChallengeRequest): Promise<IssuedToken> {
    const { ttlSeconds, ...expectations } = request;
    const claims: JWTPayload = {};
    for (const [name, value] of Object.entries(expectations)) if (value !== undefined) claims[name] = value;
    return this.sign(claims, SCEP_CHALLENGE_AUDIENCE, ttlSeconds, undefined);
  }

  userToken(request: UserTokenRequest): Promise<IssuedToken> {
    const claims: JWTPayload = { ...(request.claims ?? {}) };
    if (claims[request.usernameClaim] === undefined) claims[request.usernameClaim] = request.sub;
    return this.sign(claims, request.audience, request.ttlSeconds, request.sub);
  }

  private async sign(
    claims: JWTPayload,
    audience: string,
    ttlSeconds: number,
    subject: string | undefined,
  ): Promise<IssuedToken> {
    const id = randomUUID();
    const now = Math.floor(this.clock().getTime() / 1000);
    const expiresAt = new Date((now + ttlSeconds) * 1000);
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(id);
    if (subject !== undefined) jwt = jwt.setSubject(subject);
    return { id, token: await jwt.sign(this.key.privateKey), expiresAt };
  }
}
