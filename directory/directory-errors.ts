import {
  InappropriateAuthError,
  InvalidCredentialsError,
  ResultCodeError,
  UnwillingToPerformError,
} from 'ldapts';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { adBindFailureReason } from './ad-bind-reason.js';

/**
 * One client message for every credential failure (unknown user, wrong password, empty password,
 * ambiguous name, disabled account): different messages would let a client enumerate accounts.
 */
export const BAD_CREDENTIALS_MESSAGE = 'invalid username or password';
export const DIRECTORY_UNAVAILABLE_MESSAGE = 'directory unavailable, try again later';

export function badCredentials(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unauthorized, BAD_CREDENTIALS_MESSAGE, { detail, cause });
}

export function directoryUnavailable(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unavailable, DIRECTORY_UNAVAILABLE_MESSAGE, { detail, cause });
}

export const ACCOUNT_NOT_FOUND_MESSAGE = 'no directory account matches the request';
export const ACCOUNT_DISABLED_MESSAGE = 'the directory account is disabled';

/**
 * Enrichment lookups (the connector): the request is already authorized by its challenge, so the
 * reason may be told; it is final (unauthorized, not retryable) until the directory changes.
 */
export function accountNotFound(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unauthorized, ACCOUNT_NOT_FOUND_MESSAGE, { detail, cause });
}

export function accountDisabled(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.unauthorized, ACCOUNT_DISABLED_MESSAGE, { detail });
}

/**
 * Errors of the service account's work (connect, StartTLS, bind, search). Whatever goes wrong
 * there is not the end user's fault, so it is `unavailable` (retryable): sockets, timeouts, TLS,
 * and also LDAP result codes such as a rejected service bind, which an operator must fix.
 */
export function serviceFailure(what: string, e: unknown): OutpostError {
  if (e instanceof OutpostError) return e;
  return directoryUnavailable(`${what}: ${describe(e)}`, e);
}

/**
 * Errors of the bind as the end user. invalidCredentials (49) is the normal "wrong password";
 * inappropriateAuthentication (48) and unwillingToPerform (53) are what servers answer to
 * unauthenticated or refused simple binds (RFC 4513 §5.1.2, §6.3.1). Anything else is the
 * directory's trouble, not the user's.
 */
export function userBindFailure(dn: string, e: unknown): OutpostError {
  if (e instanceof OutpostError) return e;
  if (
    e instanceof InvalidCredentialsError ||
    e instanceof InappropriateAuthError ||
    e instanceof UnwillingToPerformError
  ) {
    const reason = adBindFailureReason(e.message) ?? `LDAP result ${e.code}`;
    return badCredentials(`bind as ${dn} refused: ${reason}`, e);
  }
  return directoryUnavailable(`bind as ${dn}: ${describe(e)}`, e);
}

function describe(e: unknown): string {
  if (e instanceof ResultCodeError) return `LDAP result ${e.code} (${e.message})`;
  return e instanceof Error ? e.message : String(e);
}
