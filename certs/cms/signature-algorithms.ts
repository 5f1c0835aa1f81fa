import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { HashName } from '../signer.js';
import { algorithmIdentifier, derNull } from './der-writer.js';
import { Oid } from './oids.js';

export interface SignatureScheme {
  keyType: 'rsa' | 'ec';
  /** Hash fixed by the OID, or undefined when the SignerInfo's digestAlgorithm decides (rsaEncryption). */
  hash?: HashName;
  /** RSASSA-PSS: hash and salt come from the AlgorithmIdentifier's parameters (RFC 4056 §3). */
  pss?: true;
}

const schemes: ReadonlyMap<string, SignatureScheme> = new Map<string, SignatureScheme>([
  // RFC 3370 §3.2: rsaEncryption in SignerInfo means PKCS#1 v1.5 with the digestAlgorithm's hash
  [Oid.rsaEncryption, { keyType: 'rsa' }],
  [Oid.sha1WithRsa, { keyType: 'rsa', hash: 'sha1' }],
  [Oid.sha256WithRsa, { keyType: 'rsa', hash: 'sha256' }],
  [Oid.sha384WithRsa, { keyType: 'rsa', hash: 'sha384' }],
  [Oid.sha512WithRsa, { keyType: 'rsa', hash: 'sha512' }],
  // RFC 4056: what strongSwan's pki --scep --rsa-padding pss signs with
  [Oid.rsassaPss, { keyType: 'rsa', pss: true }],
  // some signers put the key's algorithm here; the digestAlgorithm then decides the hash
  [Oid.ecPublicKey, { keyType: 'ec' }],
  [Oid.ecdsaWithSha1, { keyType: 'ec', hash: 'sha1' }],
  [Oid.ecdsaWithSha256, { keyType: 'ec', hash: 'sha256' }],
  [Oid.ecdsaWithSha384, { keyType: 'ec', hash: 'sha384' }],
  [Oid.ecdsaWithSha512, { keyType: 'ec', hash: 'sha512' }],
]);

export function signatureSchemeFromOid(oid: string): SignatureScheme {
  const scheme = schemes.get(oid);
  if (!scheme)
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported signature algorithm', {
      detail: oid,
    });
  return scheme;
}

const ecdsaOidByHash: Record<HashName, string> = {
  sha1: Oid.ecdsaWithSha1,
  sha256: Oid.ecdsaWithSha256,
  sha384: Oid.ecdsaWithSha384,
  sha512: Oid.ecdsaWithSha512,
};

/**
 * SignerInfo.signatureAlgorithm for what we write: rsaEncryption + NULL for RSA (what OpenSSL writes
 * and every SCEP client accepts), ecdsa-with-SHAx without parameters (RFC 5758 §3.2).
 */
export function signatureAlgorithmDer(keyType: 'rsa' | 'ec', hash: HashName): Buffer {
  return keyType === 'rsa'
    ? algorithmIdentifier(Oid.rsaEncryption, derNull)
    : algorithmIdentifier(ecdsaOidByHash[hash]);
}
