import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { AlgorithmIdentifier } from './decode-signed-data.js';
import {
  decoding,
  explicitItem,
  isContextTag,
  octetsValue,
  oidValue,
  parseDer,
  sequenceItems,
} from './der-reader.js';
import { algorithmIdentifier, contextConstructed, derNull, sequence } from './der-writer.js';
import { Oid } from './oids.js';
import {
  checkPkcs1v15Lengths,
  decryptFailed,
  isKeyObject,
  type OaepHashName,
  type RecipientKey,
  type RsaKeyTransportDecrypter,
  rejectionSecretFrom,
  syntheticKey,
} from './recipient-key.js';

export type KeyTransportName = 'rsa-pkcs1' | 'rsa-oaep-sha1' | 'rsa-oaep-sha256';

/** Secret behind implicit rejection, derived once per private key (exporting a key is not free). */
const rejectionSecrets = new WeakMap<KeyObject, Buffer>();

function rejectionSecret(privateKey: KeyObject): Buffer {
  let secret = rejectionSecrets.get(privateKey);
  if (!secret) {
    secret = rejectionSecretFrom(privateKey.export({ format: 'jwk' }).d ?? '');
    rejectionSecrets.set(privateKey, secret);
  }
  return secret;
}

/** asymmetricKeyDetails builds a fresh object per call; the RA key is the same on every request. */
const modulusByteCache = new WeakMap<KeyObject, number>();

function modulusBytes(privateKey: KeyObject): number {
  const cached = modulusByteCache.get(privateKey);
  if (cached) return cached;
  const bits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (privateKey.asymmetricKeyType !== 'rsa' || !bits) {
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'recipient key is not RSA');
  }
  modulusByteCache.set(privateKey, Math.ceil(bits / 8));
  return Math.ceil(bits / 8);
}

/** 1 when byte === 0, else 0, without a branch. */
const isZero = (byte: number): number => ((byte - 1) >>> 8) & 1;

/**
 * RSAES-PKCS1-v1_5 decryption of a content key of known length (RFC 8017 §7.2.2). Node 20 refuses
 * RSA_PKCS1_PADDING in privateDecrypt (Marvin fix), so the raw RSA result is unpadded here. Since the
 * key length is known, the separator position is fixed and every byte is examined the same way; on
 * any padding defect a synthetic key is selected byte-by-byte with a mask. No branch or error
 * depends on padding validity.
 */
function unwrapPkcs1v15(privateKey: KeyObject, encryptedKey: Buffer, keyLength: number): Buffer {
  const k = modulusBytes(privateKey);
  checkPkcs1v15Lengths(k, encryptedKey, keyLength);
  const separator = k - keyLength - 1;
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encryptedKey);
  } catch (cause) {
    throw decryptFailed('RSA decryption failed', cause); // ciphertext >= modulus: public, not padding
  }
  const synthetic = syntheticKey(rejectionSecret(privateKey), encryptedKey, keyLength);
  let bad = em[0]! | (em[1]! ^ 0x02) | em[separator]!;
  for (let i = 2; i < separator; i++) bad |= isZero(em[i]!);
  const keepMask = ((bad | -bad) >> 31) ^ -1; // all ones when valid, 0 when not
  const key = Buffer.alloc(keyLength);
  for (let i = 0; i < keyLength; i++) {
    key[i] = (em[separator + 1 + i]! & keepMask) | (synthetic[i]! & ~keepMask);
  }
  return key;
}

/**
 * RSAES-OAEP (RFC 8017 §7.1, RFC 3560). OpenSSL checks OAEP in constant time; a failure still
 * yields the synthetic key so that both key transports fail alike, at content decryption.
 */
function unwrapOaep(privateKey: KeyObject, encryptedKey: Buffer, keyLength: number, hash: string): Buffer {
  modulusBytes(privateKey);
  try {
    const key = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      encryptedKey,
    );
    if (key.length === keyLength) return key;
  } catch {
    // fall through to implicit rejection
  }
  return syntheticKey(rejectionSecret(privateKey), encryptedKey, keyLength);
}

const oaepHashes = new Map<string, OaepHashName>([
  [Oid.sha1, 'sha1'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);

/**
 * RSAES-OAEP-params (RFC 8017 A.2.1): hashFunc [0], maskGenFunc [1], pSourceFunc [2], SHA-1 / MGF1-SHA-1
 * / empty label by default. node:crypto uses one hash for both, so MGF1's hash must equal hashFunc.
 */
function oaepHash(parametersDer: Buffer | undefined): OaepHashName {
  if (!parametersDer || parametersDer.equals(derNull)) return 'sha1';
  return decoding('RSAES-OAEP-params', () => {
    const fields = sequenceItems(
      parseDer(parametersDer, 'RSAES-OAEP-params', 1024),
      'RSAES-OAEP-params',
      0,
      3,
    );
    let hashOid: string = Oid.sha1;
    let mgfHashOid: string = Oid.sha1;
    for (const field of fields) {
      if (isContextTag(field, 0))
        hashOid = oidValue(
          sequenceItems(explicitItem(field, 0, 'hashFunc'), 'hashFunc', 1, 2)[0],
          'hashFunc',
        );
      else if (isContextTag(field, 1)) mgfHashOid = mgf1Hash(explicitItem(field, 1, 'maskGenFunc'));
      else if (isContextTag(field, 2)) requireEmptyLabel(explicitItem(field, 2, 'pSourceFunc'));
    }
    const hash = oaepHashes.get(hashOid);
    if (!hash || mgfHashOid !== hashOid) {
      throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported RSA-OAEP parameters', {
        detail: hashOid,
      });
    }
    return hash;
  });
}

function mgf1Hash(node: ReturnType<typeof explicitItem>): string {
  const [oid, params] = sequenceItems(node, 'maskGenFunc', 2);
  if (oidValue(oid, 'maskGenFunc') !== Oid.mgf1) {
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported OAEP mask generation function');
  }
  return oidValue(sequenceItems(params, 'mgf1 hash', 1, 2)[0], 'mgf1 hash');
}

function requireEmptyLabel(node: ReturnType<typeof explicitItem>): void {
  const [oid, label] = sequenceItems(node, 'pSourceFunc', 2);
  if (oidValue(oid, 'pSourceFunc') !== Oid.pSpecified || octetsValue(label, 'label').length !== 0) {
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported OAEP label');
  }
}

export interface UnwrappedKey {
  key: Buffer;
  keyTransport: KeyTransportName;
}

/** The two transports above over a node:crypto key; cached, so each key's secrets are derived once. */
const keyObjectDecrypters = new WeakMap<KeyObject, RsaKeyTransportDecrypter>();

export function keyObjectDecrypter(privateKey: KeyObject): RsaKeyTransportDecrypter {
  let decrypter = keyObjectDecrypters.get(privateKey);
  if (!decrypter) {
    decrypter = {
      modulusBytes: modulusBytes(privateKey),
      unwrapPkcs1v15: (encryptedKey, keyLength) => unwrapPkcs1v15(privateKey, encryptedKey, keyLength),
      unwrapOaep: (encryptedKey, keyLength, hash) => unwrapOaep(privateKey, encryptedKey, keyLength, hash),
    };
    keyObjectDecrypters.set(privateKey, decrypter);
  }
  return decrypter;
}

/** Recovers a content-encryption key of `keyLength` bytes; see the two transports above. */
export function unwrapContentKey(
  algorithm: AlgorithmIdentifier,
  recipientKey: RecipientKey,
  encryptedKey: Buffer,
  keyLength: number,
): UnwrappedKey {
  const decrypter = isKeyObject(recipientKey) ? keyObjectDecrypter(recipientKey) : recipientKey;
  if (algorithm.oid === Oid.rsaEncryption) {
    return { key: decrypter.unwrapPkcs1v15(encryptedKey, keyLength), keyTransport: 'rsa-pkcs1' };
  }
  if (algorithm.oid === Oid.rsaesOaep) {
    const hash = oaepHash(algorithm.parametersDer);
    const keyTransport: KeyTransportName = hash === 'sha256' ? 'rsa-oaep-sha256' : 'rsa-oaep-sha1';
    return { key: decrypter.unwrapOaep(encryptedKey, keyLength, hash), keyTransport };
  }
  throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported key transport', {
    detail: algorithm.oid,
  });
}

const sha256Der = algorithmIdentifier(Oid.sha256);
const oaepSha256Params = sequence(
  contextConstructed(0, sha256Der),
  contextConstructed(1, algorithmIdentifier(Oid.mgf1, sha256Der)),
);

/** Encrypts a content key to an RSA public key; returns KeyEncryptionAlgorithmIdentifier and encryptedKey. */
export function wrapContentKey(
  keyTransport: 'rsa-pkcs1' | 'rsa-oaep-sha256',
  publicKey: KeyObject,
  key: Buffer,
): { algorithmDer: Buffer; encryptedKey: Buffer } {
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'recipient key is not RSA');
  }
  if (keyTransport === 'rsa-pkcs1') {
    return {
      algorithmDer: algorithmIdentifier(Oid.rsaEncryption, derNull),
      encryptedKey: publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key),
    };
  }
  return {
    algorithmDer: algorithmIdentifier(Oid.rsaesOaep, oaepSha256Params),
    encryptedKey: publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      key,
    ),
  };
}
