import { constants, createPublicKey, type KeyObject, publicEncrypt } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

/** What `encryptedPassword` in a job result is: RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1). */
export const DEVICE_PASSWORD_ENCRYPTION = 'RSA-OAEP-SHA256' as const;

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/**
 * The device's RSA public key from SPKI PEM. Checked before any work is done, so that a job with an
 * unusable key fails at once (non-retryable) rather than after key generation and issuance.
 */
export function parseDevicePublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new OutpostError(ErrorCodes.badRequest, 'devicePublicKey is not an SPKI PEM public key', { cause });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new OutpostError(
      ErrorCodes.badRequest,
      `devicePublicKey must be an RSA key of ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`,
    );
  }
  return key;
}

/** Encrypts the PKCS#12 password to the device (RSA-OAEP-SHA256). */
export function encryptToDevice(deviceKey: KeyObject, password: string): Buffer {
  return publicEncrypt(
    { key: deviceKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(password, 'utf8'),
  );
}
