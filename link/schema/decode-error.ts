import { DecodeError } from '../../core/errors.js';

/**
 * Why a link message was refused. The receiver answers with an `error` message carrying the reason
 * (and `ref`, when the id could be read) and keeps the connection open.
 * - `oversized`: more than LinkLimits.maxMessageBytes;
 * - `malformed`: not UTF-8 JSON, or not an object;
 * - `unsupported-version`: `v` is not 1;
 * - `unknown-type`: `type` is not a message this side receives;
 * - `invalid`: a field is missing, of the wrong type or out of bounds.
 */
export type LinkDecodeReason = 'oversized' | 'malformed' | 'unsupported-version' | 'unknown-type' | 'invalid';

/** The one error the link codec throws. */
export class LinkDecodeError extends DecodeError {
  readonly reason: LinkDecodeReason;
  /** The `id` of the refused message, when it could be read. */
  readonly ref: string | undefined;

  constructor(reason: LinkDecodeReason, message: string, ref?: string) {
    super(message);
    this.name = 'LinkDecodeError';
    this.reason = reason;
    this.ref = ref;
  }
}
