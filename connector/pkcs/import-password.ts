import { constants, createPublicKey, type KeyObject, publicEncrypt } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { IMPORT_PASSWORD_ENCRYPTION, importKeyId } from './import-key.js';

/** RSA-3072 with OAEP-SHA512 fits 384 - 2·64 - 2 = 254 bytes of plaintext (RFC 8017 §7.1.1). */
export const MAX_IMPORT_PASSWORD_BYTES = 254;

/**
 * What an admin does with `outpost pfx encrypt`: encrypts a PFX password (UTF-8) to the import
 * public key with RSA-OAEP-SHA512, for the `encryptedPassword` of a `cert.pfx.import` job.
 */
export function encryptImportPassword(
  importPublicKeyPem: string,
  password: string,
): { ciphertext: Buffer; keyId: string } {
  const publicKey = loadImportPublicKey(importPublicKeyPem);
  const plaintext = Buffer.from(password, 'utf8');
  if (plaintext.length > MAX_IMPORT_PASSWORD_BYTES) {
    throw new OutpostError(
      ErrorCodes.limit,
      `the password is longer than ${MAX_IMPORT_PASSWORD_BYTES} bytes (RSA-OAEP-SHA512 limit)`,
    );
  }
  const ciphertext = publicEncrypt(
    {
      key: publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: IMPORT_PASSWORD_ENCRYPTION.oaepHash,
    },
    plaintext,
  );
  return { ciphertext, keyId: importKeyId(publicKey) };
}

function loadImportPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new OutpostError(ErrorCodes.badRequest, 'the import key is not a PEM public key', { cause });
  }
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 3072) {
    throw new OutpostError(ErrorCodes.badRequest, 'the import key must be an RSA key of 3072 bits or more');
  }
  return key;
}
