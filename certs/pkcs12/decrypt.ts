import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { type AsnNode, oidValue, sequenceItems } from '../cms/der-reader.js';
import { Pkcs12Oid } from './oids.js';
import type { PasswordBytes } from './password.js';
import { decryptPbes2 } from './pbes2.js';
import { unsupportedAlgorithm, wrongPassword } from './pkcs12-errors.js';
import { decryptPkcs12Pbe, isPkcs12Pbe } from './pkcs12-pbe.js';

/**
 * Decrypts an encryptedData content or a shrouded key with the password, whichever scheme the
 * AlgorithmIdentifier names: PBES2 (UTF-8 password) or legacy PKCS#12 PBE (BMPString password).
 * A padding failure means a wrong password (the MAC passed, or there is none) or a corrupted file.
 */
export function decryptWithPassword(
  algorithm: AsnNode | undefined,
  ciphertext: Buffer,
  password: PasswordBytes,
  what: string,
): Buffer {
  const [oidNode, params] = sequenceItems(algorithm, `${what} encryption algorithm`, 1, 2);
  const oid = oidValue(oidNode, `${what} encryption algorithm`);
  try {
    if (oid === Pkcs12Oid.pbes2) return decryptPbes2(params, ciphertext, password.utf8);
    if (isPkcs12Pbe(oid)) return decryptPkcs12Pbe(oid, params, ciphertext, password.bmp);
  } catch (e) {
    if (e instanceof OutpostError && e.code === ErrorCodes.decrypt) throw wrongPassword(what, e);
    throw e;
  }
  throw unsupportedAlgorithm(`${what} encryption`, oid);
}
