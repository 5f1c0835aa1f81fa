import { ErrorCodes, OutpostError } from '../../../core/errors.js';

/** Socket-level failures of reaching the server (node:net / node:dns codes). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // a Unix socket whose server is down: the socket file is gone
  'ENOENT',
]);

/**
 * SQLSTATEs meaning "this server or connection is not usable now" (PostgreSQL appendix A):
 * class 08 connection exceptions, 57P01-57P03 shutdown/startup, 53300 too_many_connections,
 * 57014 query_canceled (statement_timeout).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/**
 * SQLSTATEs after which the server has rolled the transaction back and running it again is safe
 * and expected (serialization_failure, deadlock_detected).
 */
const RETRY_SQLSTATES = new Set(['40001', '40P01']);

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** node-postgres reports a dropped socket and a connect timeout only by message. */
const LOST_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i;

/** The database could not be reached or the connection dropped: another try later may work. */
export function isConnectionLoss(e: unknown): boolean {
  const code = codeOf(e);
  if (code && (NETWORK_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code)))
    return true;
  return e instanceof Error && LOST_MESSAGES.test(e.message);
}

/** The transaction lost a race the server detected and undid: run it again. */
export function isTransactionRetry(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && RETRY_SQLSTATES.has(code);
}

/** unique_violation: the adapters turn it into the port's conflict. */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  if (codeOf(e) !== '23505') return false;
  return constraint === undefined || (e as { constraint?: string }).constraint === constraint;
}

/**
 * What a caller sees when the state database cannot be used: `unavailable` (retryable: SCEP says
 * "try later", a link job is retried), with the driver's error kept as the internal cause only.
 */
export function stateUnavailable(e: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unavailable, 'state database unavailable', {
    cause: e,
    detail: codeOf(e) ?? (e instanceof Error ? e.message : String(e)),
  });
}
