import { ErrorCodes, type OutpostError } from '../../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/**
 * Invalid configuration, command-line usage errors (unknown option, missing argument), and a key
 * store that cannot be used (PKCS#11 module, token or PIN).
 */
export const EXIT_CONFIG = 2;
export const EXIT_NOT_FOUND = 3;
export const EXIT_CONFLICT = 4;

/** Stable exit codes, so scripts can tell "fix your config" from "no such certificate". */
export function exitCodeFor(error: OutpostError): number {
  switch (error.code) {
    case ErrorCodes.config:
    case ErrorCodes.keyStore:
      return EXIT_CONFIG;
    case ErrorCodes.notFound:
      return EXIT_NOT_FOUND;
    case ErrorCodes.conflict:
      return EXIT_CONFLICT;
    default:
      return EXIT_FAILURE;
  }
}
