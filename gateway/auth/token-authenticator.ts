import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { type AuthResult, authFailure } from './auth-result.js';
import { bearerToken, MAX_TOKEN_CHARS } from './bearer-token.js';

export interface TokenAuthenticatorOptions {
  /** From tokenKeySource() (JWKS file or URL), or any jose key resolver. */
  keys: JWTVerifyGetKey;
  /** Expected `iss` (RFC 7519 §4.1.1); undefined skips the check (config: issuer null). */
  issuer?: string;
  /** Expected `aud` (RFC 7519 §4.1.3). */
  audience: string;
  /** Claim holding the username, e.g. upn, preferred_username, email, sub. */
  usernameClaim: string;
  /** Claim holding group names (string array); absent claim = no groups. */
  groupsClaim?: string;
  /** Claims that must be present besides exp, e.g. ["sub", "iat"]. */
  requiredClaims?: string[];
  /** Asymmetric algorithms only: an HMAC "alg" with a public key is the classic JWT confusion attack. */
  algorithms?: string[];
  clockToleranceSec?: number;
  /** Refuse tokens issued longer ago than this (needs iat). */
  maxTokenAgeSec?: number;
  clock?: () => Date;
}

const DEFAULT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
const MAX_GROUPS = 1000;
const MAX_NAME_CHARS = 256;

/** Bearer JWT (openconnect --token-mode=oidc) verified offline against a JWKS. */
export class TokenAuthenticator {
  constructor(private readonly options: TokenAuthenticatorOptions) {}

  /** From the Authorization header value as the client sent it. */
  authenticateBearer(authorization: string | undefined): Promise<AuthResult> {
    return this.authenticate(bearerToken(authorization));
  }

  /** Throws OutpostError unauthorized, or unavailable when a remote JWKS cannot be fetched. */
  async authenticate(token: string): Promise<AuthResult> {
    if (token.length > MAX_TOKEN_CHARS) throw authFailure('token', 'token too long');
    const o = this.options;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, o.keys, {
        ...(o.issuer !== undefined ? { issuer: o.issuer } : {}),
        audience: o.audience,
        algorithms: o.algorithms ?? DEFAULT_ALGORITHMS,
        // exp is required: a token without one would be valid forever (RFC 7519 §4.1.4 makes it optional).
        requiredClaims: [...new Set(['exp', o.usernameClaim, ...(o.requiredClaims ?? [])])],
        clockTolerance: o.clockToleranceSec ?? 30,
        ...(o.maxTokenAgeSec !== undefined ? { maxTokenAge: o.maxTokenAgeSec } : {}),
        currentDate: (o.clock ?? (() => new Date()))(),
      }));
    } catch (e) {
      throw tokenFailure(e);
    }
    const username = payload[o.usernameClaim];
    if (typeof username !== 'string' || username.length === 0 || username.length > MAX_NAME_CHARS) {
      throw authFailure('token', `claim ${o.usernameClaim} is not a usable username`);
    }
    return { username, groups: groupsFrom(payload[o.groupsClaim ?? 'groups']), method: 'token' };
  }
}

function groupsFrom(claim: unknown): string[] {
  if (!Array.isArray(claim)) return [];
  return claim
    .filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= MAX_NAME_CHARS)
    .slice(0, MAX_GROUPS);
}

/** Every verification failure is the client's; a JWKS that cannot be fetched is ours (retryable). */
function tokenFailure(e: unknown): OutpostError {
  if (e instanceof errors.JWKSTimeout || !(e instanceof errors.JOSEError)) {
    return new OutpostError(ErrorCodes.unavailable, 'token keys unavailable, try again later', {
      cause: e,
      detail: e instanceof Error ? e.message : String(e),
    });
  }
  return authFailure('token', `${e.code}: ${e.message}`, e);
}
