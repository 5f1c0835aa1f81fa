import { ErrorCodes, OutpostError } from '../../core/errors.js';

/** Bounds on hostile input (DESIGN rule 4). A CA export is a few KiB; these leave room for big chains. */
export const Pkcs12Limits = {
  /** Whole PFX, and any decrypted SafeContents. */
  maxBytes: 1024 * 1024,
  /** ContentInfos in the AuthenticatedSafe (OpenSSL writes two). */
  maxAuthSafeItems: 64,
  /** SafeBags in the whole file, nested bags included. */
  maxBags: 512,
  /** safeContentsBag inside safeContentsBag (RFC 7292 §4.2.6 allows recursion; nobody needs much). */
  maxBagNesting: 4,
  /** Attributes per bag and values per attribute. */
  maxAttributes: 16,
  /**
   * KDF iterations. OpenSSL 3 writes 2048, current guidance is ~600 000 for PBKDF2-SHA256; beyond a
   * few million a file is a denial of service (the PKCS#12 KDF runs one hash call per iteration).
   */
  maxIterations: 4_000_000,
} as const;

/** Reads an iteration count, which must be 1..maxIterations (RFC 8018 §A.2 "INTEGER (1..MAX)"). */
export function checkIterations(iterations: number, what: string): number {
  if (iterations < 1) throw new OutpostError(ErrorCodes.decode, `${what}: iteration count must be positive`);
  if (iterations > Pkcs12Limits.maxIterations) {
    throw new OutpostError(ErrorCodes.limit, `${what}: iteration count too large`, {
      detail: String(iterations),
    });
  }
  return iterations;
}
