import { type ErrorCode, ErrorCodes, OutpostError } from '../../core/errors.js';

/** A job failure as the link reports it (link/schema/common.ts wireError). */
export interface JobError {
  code: string;
  retryable: boolean;
  message: string;
}

/**
 * Codes for which running the same job again later may succeed: the CA or directory was
 * unreachable, or the connector was busy. Everything else (bad payload, wrong password, already
 * revoked, unknown serial) fails the same way every time.
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set<string>([ErrorCodes.unavailable, ErrorCodes.busy]);

/**
 * An OutpostError that also says whether a retry may help. The link's job runner reads
 * `retryable` from a thrown OutpostError, so handlers throw this and the link maps it to
 * `job.result` (link/job-outcome.ts) without knowing connector codes.
 */
export class JobFailure extends OutpostError {
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    clientMessage: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(code, clientMessage, { cause: options.cause });
    this.name = 'JobFailure';
    this.retryable = options.retryable ?? RETRYABLE_CODES.has(code);
  }
}

/** Maps anything a job threw onto `{code, retryable, message}`; internal details stay in `cause`. */
export function toJobFailure(e: unknown): JobFailure {
  if (e instanceof JobFailure) return e;
  if (e instanceof OutpostError) return new JobFailure(e.code, e.clientMessage, { cause: e });
  return new JobFailure(ErrorCodes.internal, 'internal error', { cause: e, retryable: false });
}

export function toJobError(e: unknown): JobError {
  const failure = toJobFailure(e);
  return { code: failure.code, retryable: failure.retryable, message: failure.clientMessage };
}
