import { createHmac, KeyObject } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export type OaepHashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * The private half of an RSA key-transport recipient (RFC 5652 §6.2.1) behind an interface, so the
 * key can live in a PKCS#11 token (DESIGN rule 6). An implementation answers every ciphertext of
 * the right length with a key of `keyLength` bytes: the real one, or the synthetic one of
 * `syntheticKey` when the padding is wrong or the key store refused (implicit rejection,
 * draft-irtf-cfrg-rsa-guidance). It throws only on public defects (a ciphertext of the wrong
 * length), so a padding failure cannot be told from a wrong key: both fail later, at content
 * decryption.
 */
export interface RsaKeyTransportDecrypter {
  readonly modulusBytes: number;
  /** RSAES-PKCS1-v1_5 (RFC 8017 §7.2.2). */
  unwrapPkcs1v15(encryptedKey: Buffer, keyLength: number): Buffer;
  /** RSAES-OAEP (RFC 8017 §7.1) with MGF1 over the same hash and an empty label. */
  unwrapOaep(encryptedKey: Buffer, keyLength: number, hash: OaepHashName): Buffer;
}

/** A recipient's private key: a node:crypto key, or a decrypter whose key stays elsewhere. */
export type RecipientKey = KeyObject | RsaKeyTransportDecrypter;

export function isKeyObject(key: RecipientKey): key is KeyObject {
  return key instanceof KeyObject;
}

export function decryptFailed(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.decrypt, 'could not decrypt', { detail, cause });
}

/**
 * Lengths are public: the ciphertext must be exactly k bytes and, for PKCS#1 v1.5, leave room for
 * at least 8 bytes of padding string (RFC 8017 §7.2.2 step 1, §7.2.1 step 1).
 */
export function checkPkcs1v15Lengths(modulusBytes: number, encryptedKey: Buffer, keyLength: number): void {
  if (modulusBytes - keyLength - 1 < 10 || encryptedKey.length !== modulusBytes) {
    throw decryptFailed('key transport length mismatch');
  }
}

/** The secret behind implicit rejection, from something only the private key's holder knows. */
export function rejectionSecretFrom(privateMaterial: Buffer | string): Buffer {
  return createHmac('sha256', 'outpost cms implicit rejection').update(privateMaterial).digest();
}

/**
 * The key returned instead of an error when key transport fails: deterministic per (private key,
 * ciphertext), so retries look alike, and unpredictable without the private key's secret.
 */
export function syntheticKey(secret: Buffer, encryptedKey: Buffer, length: number): Buffer {
  const kdk = createHmac('sha256', secret).update(encryptedKey).digest();
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * 32 < length; counter++) {
    blocks.push(
      createHmac('sha256', kdk)
        .update(Buffer.from([counter]))
        .update('key')
        .digest(),
    );
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * `candidate` when it is a key of the synthetic key's length, else the synthetic key, chosen
 * byte by byte under a mask (no branch on the bytes). Used where a key store unpads itself (a
 * PKCS#11 C_Decrypt): its failure and a wrong-length answer take the same path as success.
 */
export function keyOrSynthetic(candidate: Buffer | undefined, synthetic: Buffer): Buffer {
  const length = synthetic.length;
  const source = candidate ?? Buffer.alloc(length);
  const lengthOk = (candidate?.length ?? -1) === length ? 1 : 0;
  const keepMask = -lengthOk & 0xff; // 0xff keeps the candidate, 0 takes the synthetic key
  const key = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    key[i] = ((source[i] ?? 0) & keepMask) | (synthetic[i]! & ~keepMask);
  }
  return key;
}
