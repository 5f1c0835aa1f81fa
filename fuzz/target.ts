import type fc from 'fast-check';
import { ErrorCodes, OutpostError } from '../core/errors.js';

/**
 * One decoder under fuzz. `check` feeds it one generated input: returning normally or throwing
 * the decoder's documented error is fine; anything else it throws is a crash. A broken invariant
 * (e.g. a decoded frame that does not re-encode to its bytes) is reported by throwing
 * InvariantViolation, which is never an expected error.
 */
export interface FuzzTarget<T = unknown> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  check(input: T): void;
  isExpectedError(error: unknown): boolean;
  /** The counterexample as text to paste into a fixture (hex for bytes). */
  show(input: T): string;
}

/** Targets are built on demand: some load keys and fixtures, which only the selected ones need. */
export interface FuzzTargetEntry {
  readonly name: string;
  readonly create: () => FuzzTarget<unknown>;
}

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

/**
 * The certs/ and SCEP codecs throw DecodeError for malformed bytes and OutpostError with a stable
 * code for well-formed input that fails a check (bad signature, cannot decrypt, unsupported
 * algorithm). OUTPOST_ERR_INTERNAL would be a bug, so it counts as a crash.
 */
export function isCodecError(error: unknown): boolean {
  return error instanceof OutpostError && error.code !== ErrorCodes.internal;
}

export const showBytes = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
