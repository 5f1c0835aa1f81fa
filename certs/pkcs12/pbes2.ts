import { contentCipherByOid, decryptContent } from '../cms/content-ciphers.js';
import { type AsnNode, octetsValue, oidValue, sequenceItems } from '../cms/der-reader.js';
import { Pkcs12Oid } from './oids.js';
import { derivePbkdf2, readPbkdf2 } from './pbkdf2-params.js';
import { unsupportedAlgorithm } from './pkcs12-errors.js';

/** PBES2 encryption schemes handled by node:crypto's default provider (RFC 8018 Appendix B.2). */
const supportedSchemes = new Set<string>([
  '1.2.840.113549.3.7', // des-ede3-cbc
  '2.16.840.1.101.3.4.1.2', // aes128-CBC-PAD
  '2.16.840.1.101.3.4.1.22', // aes192-CBC-PAD
  '2.16.840.1.101.3.4.1.42', // aes256-CBC-PAD
]);

/**
 * PBES2 decryption (RFC 8018 §6.2.2): PBKDF2 over the UTF-8 password, then CBC with the IV carried
 * as the scheme's parameters, PKCS#5 padding removed and checked.
 *
 *   PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }
 */
export function decryptPbes2(params: AsnNode | undefined, ciphertext: Buffer, utf8Password: Buffer): Buffer {
  const [keyDerivationFunc, encryptionScheme] = sequenceItems(params, 'PBES2-params', 2);
  const [schemeOid, ivNode] = sequenceItems(encryptionScheme, 'PBES2 encryptionScheme', 2);
  const scheme = oidValue(schemeOid, 'PBES2 encryptionScheme');
  if (!supportedSchemes.has(scheme)) {
    throw unsupportedAlgorithm(
      scheme === Pkcs12Oid.rc2Cbc ? 'RC2 encryption' : 'PBES2 encryption scheme',
      scheme,
    );
  }
  const cipher = contentCipherByOid(scheme);
  const iv = octetsValue(ivNode, 'PBES2 IV');
  const key = derivePbkdf2(readPbkdf2(keyDerivationFunc, 'PBES2'), utf8Password, cipher.keyLength);
  return decryptContent(cipher, key, iv, ciphertext);
}
