import { ErrorCodes, isOutpostError } from '../core/errors.js';
import type { JobOutcome } from './ports.js';

/** A job kind no registered handler takes (e.g. `session.revoke` sent to a connector-only appliance). */
export const UNSUPPORTED_CODE = 'OUTPOST_ERR_UNSUPPORTED';

/** Codes the cloud may retry (a new job) because the cause is temporary. */
const RETRYABLE: ReadonlySet<string> = new Set([ErrorCodes.unavailable, ErrorCodes.busy]);

const CODE = /^OUTPOST_ERR_[A-Z_]{1,40}$/;

interface WireError {
  code: string;
  retryable?: unknown;
  message?: unknown;
}

function isWireError(e: unknown): e is WireError {
  return typeof e === 'object' && e !== null && typeof (e as WireError).code === 'string';
}

function clip(text: string): string {
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/**
 * The one place a job failure is mapped onto the link (DESIGN rule 5). An OutpostError gives its
 * code and client message (never the internal cause); a handler may also throw `{code, retryable,
 * message}` directly; anything else is an internal error whose text stays in the log.
 */
export function failureOutcome(e: unknown): JobOutcome & { ok: false } {
  if (isOutpostError(e)) {
    const retryable = (e as { retryable?: unknown }).retryable;
    return {
      ok: false,
      error: {
        code: e.code,
        retryable: typeof retryable === 'boolean' ? retryable : RETRYABLE.has(e.code),
        message: clip(e.clientMessage),
      },
    };
  }
  if (isWireError(e) && CODE.test(e.code) && !(e instanceof Error)) {
    return {
      ok: false,
      error: {
        code: e.code,
        retryable: typeof e.retryable === 'boolean' ? e.retryable : RETRYABLE.has(e.code),
        message: clip(typeof e.message === 'string' ? e.message : e.code),
      },
    };
  }
  return { ok: false, error: { code: ErrorCodes.internal, retryable: false, message: 'internal error' } };
}

export function unsupportedOutcome(kind: string): JobOutcome {
  return {
    ok: false,
    error: { code: UNSUPPORTED_CODE, retryable: false, message: clip(`no handler for job kind ${kind}`) },
  };
}
