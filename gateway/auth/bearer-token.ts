import { authFailure } from './auth-result.js';

/**
 * openconnect `--token-mode=oidc --token-secret=JWT` (http-auth.c bearer_authorization) sends
 * "Authorization: Bearer <token>", but only after a 401 whose `WWW-Authenticate` names the Bearer
 * scheme: its first request carries `X-Support-HTTP-Auth: true` and no credentials. openconnect
 * compares the scheme name case-sensitively, so the challenge must be spelled exactly this way.
 */
export const BEARER_CHALLENGE = 'Bearer';

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A JWT is far smaller than this; anything longer is refused before parsing (DESIGN rule 4). */
export const MAX_TOKEN_CHARS = 16 * 1024;

/**
 * The token from an Authorization header value. The scheme is case-insensitive (RFC 9110 §11.1);
 * one or more spaces separate it from the credentials.
 */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined) throw authFailure('token', 'no Authorization header');
  if (authorization.length > MAX_TOKEN_CHARS + 16)
    throw authFailure('token', 'Authorization header too long');
  const m = /^([A-Za-z]+) +(\S+) *$/.exec(authorization);
  if (!m || m[1]!.toLowerCase() !== 'bearer')
    throw authFailure('token', 'Authorization is not a Bearer credential');
  const token = m[2]!;
  if (!B64TOKEN.test(token))
    throw authFailure('token', 'Bearer credential is not a b64token (RFC 6750 §2.1)');
  return token;
}
