import { sign as cryptoSign, type KeyObject } from 'node:crypto';

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * A private key behind an interface, so that it can live in another process or an HSM (DESIGN
 * rule 6; connector/ca/keys has the file and PKCS#11 stores). Everything that signs takes a
 * Signer, never a raw key.
 */
export interface Signer {
  readonly keyType: 'rsa' | 'ec';
  /** The public half, for SPKI export and signature verification. */
  readonly publicKey: KeyObject;
  /** Signs `data` (not a digest): RSA PKCS#1 v1.5 or ECDSA with DER-encoded signature. */
  sign(data: Uint8Array, hash: HashName): Buffer;
}

/** A Signer over a node:crypto private KeyObject. */
export function keyObjectSigner(privateKey: KeyObject, publicKey: KeyObject): Signer {
  const keyType = privateKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa';
  if (privateKey.asymmetricKeyType !== 'rsa' && privateKey.asymmetricKeyType !== 'ec') {
    throw new Error(`unsupported key type ${privateKey.asymmetricKeyType}`);
  }
  return {
    keyType,
    publicKey,
    sign: (data, hash) => cryptoSign(hash, data, privateKey),
  };
}
