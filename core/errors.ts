/**
 * One error type for the whole appliance. `code` is stable and machine-readable, `clientMessage`
 * is the only text an adapter may put on the wire, and `cause` keeps the internal detail for logs.
 * Each adapter has exactly one function mapping these onto its wire (HTTP status, SCEP failInfo, …).
 */
export const ErrorCodes = {
  /** A codec could not decode its input (malformed, truncated, oversized). */
  decode: 'OUTPOST_ERR_DECODE',
  /** Input is well-formed but violates a limit (size, count, rate). */
  limit: 'OUTPOST_ERR_LIMIT',
  /** Rate limit or concurrency limit reached; retry later. */
  busy: 'OUTPOST_ERR_BUSY',
  /** Configuration is invalid. */
  config: 'OUTPOST_ERR_CONFIG',
  /** A signature or MAC did not verify. */
  badSignature: 'OUTPOST_ERR_BAD_SIGNATURE',
  /** The request could not be decrypted. */
  decrypt: 'OUTPOST_ERR_DECRYPT',
  /** The challenge (static, one-time or JWS) is missing, wrong, expired or already used. */
  badChallenge: 'OUTPOST_ERR_BAD_CHALLENGE',
  /** The CSR does not satisfy the profile or the challenge's expectations. */
  badRequest: 'OUTPOST_ERR_BAD_REQUEST',
  /** An algorithm is not supported. */
  unsupportedAlgorithm: 'OUTPOST_ERR_UNSUPPORTED_ALGORITHM',
  /** Something asked for does not exist (certificate, transaction, profile). */
  notFound: 'OUTPOST_ERR_NOT_FOUND',
  /** The state does not allow the operation (already revoked, already approved). */
  conflict: 'OUTPOST_ERR_CONFLICT',
  /** Not authenticated or not authorized. */
  unauthorized: 'OUTPOST_ERR_UNAUTHORIZED',
  /** A dependency (CA backend, directory) is unreachable; retryable. */
  unavailable: 'OUTPOST_ERR_UNAVAILABLE',
  /** The configured backend has no such operation (e.g. revocation at an upstream SCEP CA). */
  unsupported: 'OUTPOST_ERR_UNSUPPORTED',
  /** The shared state database has a newer schema than this binary knows: upgrade this node first. */
  stateSchema: 'OUTPOST_ERR_STATE_SCHEMA',
  /**
   * The key store cannot be used: the PKCS#11 module does not load, the token is absent, the PIN
   * is refused, a key the CA needs is not in it. Fixed by the operator, like a config error.
   */
  keyStore: 'OUTPOST_ERR_KEY_STORE',
  /** A bug or an unexpected state. */
  internal: 'OUTPOST_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly clientMessage: string;

  constructor(code: ErrorCode, clientMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ? `${clientMessage}: ${options.detail}` : clientMessage, { cause: options?.cause });
    this.name = 'OutpostError';
    this.code = code;
    this.clientMessage = clientMessage;
  }
}

/** Codecs throw only this: bytes in, values out, one typed decode error. */
export class DecodeError extends OutpostError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.decode, message, options);
    this.name = 'DecodeError';
  }
}

export function isOutpostError(e: unknown): e is OutpostError {
  return e instanceof OutpostError;
}

/** Wraps anything thrown into an OutpostError without leaking its message to clients. */
export function toOutpostError(e: unknown): OutpostError {
  if (e instanceof OutpostError) return e;
  return new OutpostError(ErrorCodes.internal, 'internal error', { cause: e, detail: String(e) });
}
