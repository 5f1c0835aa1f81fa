import { ErrorCodes, type OutpostError } from '../../../core/errors.js';
import { FailInfo } from '../codec/index.js';

/**
 * The one mapping of OutpostError onto SCEP failInfo (RFC 8894 §3.2.1.4.5). Policy failures are
 * CertRep FAILURE replies, never HTTP errors: clients only act on failInfo.
 */
export function failInfoFor(error: OutpostError): FailInfo {
  switch (error.code) {
    case ErrorCodes.badSignature:
    case ErrorCodes.decrypt:
      return FailInfo.badMessageCheck;
    case ErrorCodes.unsupportedAlgorithm:
      return FailInfo.badAlg;
    case ErrorCodes.notFound:
      return FailInfo.badCertId;
    default:
      return FailInfo.badRequest;
  }
}

/** HTTP status for errors that happen before a CertRep can be built (undecodable message). */
export function httpStatusFor(error: OutpostError): number {
  switch (error.code) {
    case ErrorCodes.busy:
      return 503;
    case ErrorCodes.limit:
      return 413;
    case ErrorCodes.unavailable:
      return 503;
    case ErrorCodes.internal:
      return 500;
    default:
      return 400;
  }
}
