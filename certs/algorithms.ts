import { constants, type KeyObject, verify } from 'node:crypto';
import * as asn1js from 'asn1js';
import { DecodeError, ErrorCodes, OutpostError } from '../core/errors.js';
import { encodedBytes } from './asn1.js';
import { type AsnNode, isContextTag, isUniversal, oidValue, smallIntegerValue } from './der-reader.js';
import { derNull, objectIdentifier, sequence } from './der-writer.js';
import { Oid } from './oids.js';
import type { HashName } from './signer.js';
import { childNodes, decodeX509Der } from './x509-der.js';

const INTEGER = 2;
const NULL = 5;

type KeyType = 'rsa' | 'ec';

const RSA_SIG: Record<HashName, string> = {
  sha1: Oid.sha1WithRSAEncryption,
  sha256: Oid.sha256WithRSAEncryption,
  sha384: Oid.sha384WithRSAEncryption,
  sha512: Oid.sha512WithRSAEncryption,
};
const EC_SIG: Record<HashName, string> = {
  sha1: Oid.ecdsaWithSHA1,
  sha256: Oid.ecdsaWithSHA256,
  sha384: Oid.ecdsaWithSHA384,
  sha512: Oid.ecdsaWithSHA512,
};

/** Signature OID → what verifies it. */
function byOid(): Map<string, { keyType: KeyType; hash: HashName }> {
  const map = new Map<string, { keyType: KeyType; hash: HashName }>();
  for (const hash of Object.keys(RSA_SIG) as HashName[]) {
    map.set(RSA_SIG[hash], { keyType: 'rsa', hash });
    map.set(EC_SIG[hash], { keyType: 'ec', hash });
  }
  return map;
}
const BY_OID = byOid();

const HASH_BY_OID: ReadonlyMap<string, HashName> = new Map<string, HashName>([
  [Oid.sha1, 'sha1'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);

export function signatureAlgorithmOid(keyType: KeyType, hash: HashName): string {
  return (keyType === 'rsa' ? RSA_SIG : EC_SIG)[hash];
}

/**
 * AlgorithmIdentifier for a signature: RSA with explicit NULL parameters (RFC 4055 §5), ECDSA with
 * parameters absent (RFC 5758 §3.2).
 */
export function signatureAlgorithm(keyType: KeyType, hash: HashName): asn1js.Sequence {
  const value: asn1js.AsnType[] = [
    new asn1js.ObjectIdentifier({ value: signatureAlgorithmOid(keyType, hash) }),
  ];
  if (keyType === 'rsa') value.push(new asn1js.Null());
  return new asn1js.Sequence({ value });
}

const algorithmDerCache = new Map<string, Buffer>();

/** The same AlgorithmIdentifier as DER, built once per (key type, hash): it goes into every certificate. */
export function signatureAlgorithmDer(keyType: KeyType, hash: HashName): Buffer {
  const key = `${keyType}/${hash}`;
  let der = algorithmDerCache.get(key);
  if (!der) {
    const oid = objectIdentifier(signatureAlgorithmOid(keyType, hash));
    der = keyType === 'rsa' ? sequence(oid, derNull) : sequence(oid);
    algorithmDerCache.set(key, der);
  }
  return der;
}

/**
 * Verifies `signature` over `data` as described by the AlgorithmIdentifier `algorithm`. Returns false
 * (never throws) for a wrong signature, a key of the wrong type or an algorithm we do not support,
 * so that callers map all of them to one "bad signature" outcome.
 */
export function verifySignature(
  algorithm: asn1js.AsnType,
  data: Uint8Array,
  signature: Uint8Array,
  publicKey: KeyObject,
): boolean {
  try {
    return verifyWithAlgorithm(
      decodeX509Der(encodedBytes(algorithm), 'AlgorithmIdentifier'),
      data,
      signature,
      publicKey,
    );
  } catch {
    return false;
  }
}

/** verifySignature for an AlgorithmIdentifier read with the DER reader (CSR and certificate parsing). */
export function verifyWithAlgorithm(
  algorithm: AsnNode,
  data: Uint8Array,
  signature: Uint8Array,
  publicKey: KeyObject,
): boolean {
  try {
    const [oidNode, params] = childNodes(algorithm, 'AlgorithmIdentifier');
    const oid = oidValue(oidNode, 'signature algorithm');
    const keyType = publicKey.asymmetricKeyType;
    if (oid === Oid.rsassaPss) {
      if (keyType !== 'rsa' && keyType !== 'rsa-pss') return false;
      const pss = pssParameters(params);
      return verify(
        pss.hash,
        data,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
        signature,
      );
    }
    const alg = BY_OID.get(oid);
    if (!alg || alg.keyType !== keyType) return false;
    return verify(alg.hash, data, publicKey, signature);
  } catch {
    return false;
  }
}

/** What an RSASSA-PSS AlgorithmIdentifier asks a verifier to do. */
export interface PssParameters {
  hash: HashName;
  saltLength: number;
}

function unsupportedPss(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported signature algorithm', {
    detail: `RSASSA-PSS: ${detail}`,
  });
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1): defaults sha1 / MGF1-sha1 / salt 20 / trailerField 1.
 * node:crypto uses the message hash for MGF1, so a different MGF1 hash is unsupported. Throws
 * unsupportedAlgorithm for what we cannot verify (SHA-224, another MGF, another trailer) and
 * DecodeError when malformed. `params` absent or NULL means all defaults.
 */
export function pssParameters(params: AsnNode | undefined): PssParameters {
  let hash: HashName = 'sha1';
  let mgfHash: HashName = 'sha1';
  let saltLength = 20;
  const fields = params && !isUniversal(params, NULL) ? childNodes(params, 'RSASSA-PSS-params') : [];
  for (const field of fields) {
    const [inner] = childNodes(field, 'PSS field');
    if (isContextTag(field, 0)) hash = hashOf(inner);
    else if (isContextTag(field, 1)) mgfHash = mgf1Hash(inner);
    else if (isContextTag(field, 2) && isUniversal(inner, INTEGER))
      saltLength = smallIntegerValue(inner, 'saltLength');
    else if (isContextTag(field, 3) && isUniversal(inner, INTEGER)) {
      if (smallIntegerValue(inner, 'trailerField') !== 1) throw unsupportedPss('trailerField other than 1');
    } else throw new DecodeError('RSASSA-PSS-params: unexpected field');
  }
  if (mgfHash !== hash) throw unsupportedPss('MGF1 hash differs from the message hash');
  return { hash, saltLength };
}

function hashOf(algorithm: AsnNode | undefined): HashName {
  const oid = oidValue(childNodes(algorithm, 'hash algorithm')[0], 'hash');
  const hash = HASH_BY_OID.get(oid);
  if (!hash) throw unsupportedPss(`hash ${oid}`);
  return hash;
}

function mgf1Hash(algorithm: AsnNode | undefined): HashName {
  const [oid, hashAlg] = childNodes(algorithm, 'MGF');
  const mgf = oidValue(oid, 'MGF');
  if (mgf !== Oid.mgf1) throw unsupportedPss(`mask generation ${mgf}`);
  return hashOf(hashAlg);
}
