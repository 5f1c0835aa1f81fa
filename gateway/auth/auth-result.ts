import { ErrorCodes, OutpostError } from '../../core/errors.js';

export type AuthMethod = 'password' | 'token' | 'certificate';

/** Who the client is, as every authenticator reports it to the gateway's session layer. */
export interface AuthResult {
  username: string;
  groups: string[];
  method: AuthMethod;
}

/**
 * Client-safe messages, one per method: they say which credential failed, never why (unknown
 * user, wrong password, expired, revoked, untrusted issuer all look the same on the wire).
 */
export const AUTH_FAILURE_MESSAGES: Readonly<Record<AuthMethod, string>> = {
  password: 'invalid username or password',
  token: 'invalid or expired token',
  certificate: 'client certificate not accepted',
};

export function authFailure(method: AuthMethod, detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unauthorized, AUTH_FAILURE_MESSAGES[method], { detail, cause });
}
