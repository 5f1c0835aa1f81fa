import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { algorithmIdentifier, octetString } from './der-writer.js';
import { Oid } from './oids.js';

export type ContentCipherName = 'des-cbc' | 'des-ede3-cbc' | 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';

interface ContentCipher {
  name: ContentCipherName;
  oid: string;
  keyLength: number;
  blockSize: number;
  /** node:crypto cipher and key actually used. */
  nodeCipher: string;
  nodeKey(key: Buffer): Buffer;
}

const asIs = (key: Buffer): Buffer => key;

const ciphers: readonly ContentCipher[] = [
  // Single DES is not in OpenSSL 3's default provider; 3DES with K||K||K is DES with K (EDE collapses)
  {
    name: 'des-cbc',
    oid: Oid.desCbc,
    keyLength: 8,
    blockSize: 8,
    nodeCipher: 'des-ede3-cbc',
    nodeKey: (k) => Buffer.concat([k, k, k]),
  },
  {
    name: 'des-ede3-cbc',
    oid: Oid.desEde3Cbc,
    keyLength: 24,
    blockSize: 8,
    nodeCipher: 'des-ede3-cbc',
    nodeKey: asIs,
  },
  {
    name: 'aes-128-cbc',
    oid: Oid.aes128Cbc,
    keyLength: 16,
    blockSize: 16,
    nodeCipher: 'aes-128-cbc',
    nodeKey: asIs,
  },
  {
    name: 'aes-192-cbc',
    oid: Oid.aes192Cbc,
    keyLength: 24,
    blockSize: 16,
    nodeCipher: 'aes-192-cbc',
    nodeKey: asIs,
  },
  {
    name: 'aes-256-cbc',
    oid: Oid.aes256Cbc,
    keyLength: 32,
    blockSize: 16,
    nodeCipher: 'aes-256-cbc',
    nodeKey: asIs,
  },
];

const byOid = new Map(ciphers.map((c) => [c.oid, c]));
const byName = new Map(ciphers.map((c) => [c.name, c]));

export function contentCipherByOid(oid: string): ContentCipher {
  const cipher = byOid.get(oid);
  if (!cipher)
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported content cipher', { detail: oid });
  return cipher;
}

export function contentCipherByName(name: ContentCipherName): ContentCipher {
  const cipher = byName.get(name);
  if (!cipher)
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported content cipher', { detail: name });
  return cipher;
}

function decryptFailed(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.decrypt, 'could not decrypt', { detail, cause });
}

/**
 * CBC-decrypts and removes PKCS#7 padding (RFC 5652 §6.3), checking every padding byte. The check
 * has no early exit; callers must still report a padding failure and a malformed plaintext the same
 * way (one failInfo), or the pair becomes a CBC padding oracle.
 */
export function decryptContent(cipher: ContentCipher, key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  if (ciphertext.length === 0 || ciphertext.length % cipher.blockSize !== 0)
    throw decryptFailed('bad ciphertext length');
  if (iv.length !== cipher.blockSize) throw decryptFailed('bad IV length');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv(cipher.nodeCipher, cipher.nodeKey(key), iv).setAutoPadding(false);
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (cause) {
    throw decryptFailed('content decryption failed', cause);
  }
  const padLength = plain[plain.length - 1]!;
  let bad = ((padLength - 1) >>> 8) | ((cipher.blockSize - padLength) >>> 31); // 0 < padLength <= blockSize
  for (let i = 1; i <= cipher.blockSize; i++) {
    const inPadding = ((i - padLength - 1) >>> 31) & 1; // i <= padLength
    bad |= inPadding & (((plain[plain.length - i]! ^ padLength) + 0xff) >>> 8); // 1 iff byte != padLength
  }
  if (bad !== 0) throw decryptFailed('bad padding');
  return plain.subarray(0, plain.length - padLength);
}

export interface EncryptedContent {
  algorithmDer: Buffer;
  ciphertext: Buffer;
}

/** Encrypts with a fresh IV; returns ContentEncryptionAlgorithmIdentifier (IV as OCTET STRING) and ciphertext. */
export function encryptContent(cipher: ContentCipher, key: Buffer, plaintext: Uint8Array): EncryptedContent {
  const iv = randomBytes(cipher.blockSize);
  const encipher = createCipheriv(cipher.nodeCipher, cipher.nodeKey(key), iv);
  const ciphertext = Buffer.concat([encipher.update(plaintext), encipher.final()]);
  return { algorithmDer: algorithmIdentifier(cipher.oid, octetString(iv)), ciphertext };
}

/** A fresh content-encryption key; DES keys get odd parity (FIPS 46-3), which strict peers check. */
export function generateContentKey(cipher: ContentCipher): Buffer {
  const key = randomBytes(cipher.keyLength);
  if (cipher.blockSize === 8) {
    for (let i = 0; i < key.length; i++) {
      const high = key[i]! & 0xfe;
      let ones = 0;
      for (let bit = 1; bit < 0x100; bit <<= 1) ones += high & bit ? 1 : 0;
      key[i] = high | (ones % 2 === 0 ? 1 : 0);
    }
  }
  return key;
}
