import { createHash } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { HashName } from '../signer.js';
import { algorithmIdentifier } from './der-writer.js';
import { Oid } from './oids.js';

const hashByOid: ReadonlyMap<string, HashName> = new Map([
  [Oid.sha1, 'sha1'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);

const oidByHash: Record<HashName, string> = {
  sha1: Oid.sha1,
  sha256: Oid.sha256,
  sha384: Oid.sha384,
  sha512: Oid.sha512,
};

/** The node:crypto hash name of a digest AlgorithmIdentifier OID; unsupportedAlgorithm otherwise. */
export function hashFromOid(oid: string): HashName {
  const hash = hashByOid.get(oid);
  if (!hash)
    throw new OutpostError(ErrorCodes.unsupportedAlgorithm, 'unsupported digest algorithm', { detail: oid });
  return hash;
}

/** DigestAlgorithmIdentifier with absent parameters (RFC 5754 §2: SHOULD omit for SHA-2). */
export function digestAlgorithmDer(hash: HashName): Buffer {
  return algorithmIdentifier(oidByHash[hash]);
}

export function digest(hash: HashName, data: Uint8Array): Buffer {
  return createHash(hash).update(data).digest();
}
