import { ErrorCodes, OutpostError } from '../../core/errors.js';

/** What an admin can do about a file this reader cannot decrypt: re-export it with PBES2/AES. */
export const REEXPORT_HINT =
  're-export it with `openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC`';

/** An algorithm this reader does not implement, with the fix in the client-safe message. */
export function unsupportedAlgorithm(what: string, oid: string): OutpostError {
  return new OutpostError(
    ErrorCodes.unsupportedAlgorithm,
    `PKCS#12 ${what} is not supported; ${REEXPORT_HINT}`,
    {
      detail: oid,
    },
  );
}

/**
 * A MAC mismatch, or a decryption padding failure: the password is wrong or the file corrupted.
 * Both say the same, so that there is one answer to "wrong password" whatever the file holds.
 */
export function wrongPassword(what: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.badSignature, 'wrong PKCS#12 password (or the file is corrupted)', {
    detail: what,
    cause,
  });
}
