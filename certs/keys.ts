import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCb,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { DecodeError } from '../core/errors.js';
import { keyObjectSigner, type Signer } from './signer.js';

export type KeyAlgorithm = 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = [
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ec-p256',
  'ec-p384',
];

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const generate = promisify(generateKeyPairCb);

/** Generates a key pair off the main thread (node:crypto runs RSA keygen in the libuv pool). */
export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  switch (algorithm) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generate('rsa', { modulusLength: Number(algorithm.slice(4)), publicExponent: 0x10001 });
    case 'ec-p256':
      return generate('ec', { namedCurve: 'prime256v1' });
    case 'ec-p384':
      return generate('ec', { namedCurve: 'secp384r1' });
    default:
      throw new DecodeError(`unknown key algorithm ${String(algorithm)}`);
  }
}

export function isKeyAlgorithm(s: string): s is KeyAlgorithm {
  return (KEY_ALGORITHMS as readonly string[]).includes(s);
}

/** PKCS#8 PEM ("PRIVATE KEY"), or "ENCRYPTED PRIVATE KEY" with AES-256-CBC/PBKDF2 when a passphrase is given. */
export function privateKeyToPem(privateKey: KeyObject, passphrase?: string): string {
  if (passphrase === undefined) return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
export function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/**
 * Loads a PEM private key: PKCS#8 ("PRIVATE KEY"), encrypted PKCS#8, PKCS#1 ("RSA PRIVATE KEY",
 * including the legacy OpenSSL "Proc-Type: 4,ENCRYPTED" form) and SEC1 ("EC PRIVATE KEY").
 */
export function loadPrivateKey(pem: string | Buffer, passphrase?: string): KeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (cause) {
    throw new DecodeError('cannot load private key (malformed, or wrong or missing passphrase)', { cause });
  }
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A Signer for a key pair (see certs/signer.ts). */
export function keyPairSigner(pair: KeyPair): Signer {
  return keyObjectSigner(pair.privateKey, pair.publicKey);
}

/** Whether `publicKey` is the public half of `privateKey` (compares SPKI bytes). */
export function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  return spkiDer(createPublicKey(privateKey)).equals(spkiDer(publicKey));
}
