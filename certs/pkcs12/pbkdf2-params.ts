import { pbkdf2Sync } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import {
  type AsnNode,
  isSequence,
  octetsValue,
  oidValue,
  sequenceItems,
  smallIntegerValue,
} from '../cms/der-reader.js';
import { checkIterations } from './limits.js';
import { Pkcs12Oid } from './oids.js';
import { unsupportedAlgorithm } from './pkcs12-errors.js';

type PrfHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

const prfByOid = new Map<string, PrfHash>([
  [Pkcs12Oid.hmacWithSha1, 'sha1'],
  [Pkcs12Oid.hmacWithSha224, 'sha224'],
  [Pkcs12Oid.hmacWithSha256, 'sha256'],
  [Pkcs12Oid.hmacWithSha384, 'sha384'],
  [Pkcs12Oid.hmacWithSha512, 'sha512'],
]);

/** PBKDF2-params (RFC 8018 Appendix A.2), read from a keyDerivationFunc AlgorithmIdentifier. */
export interface Pbkdf2Params {
  salt: Buffer;
  iterations: number;
  keyLength?: number;
  /** The HMAC hash; hmacWithSHA1 when the prf field is absent (its DEFAULT). */
  prf: PrfHash;
}

/**
 *   PBKDF2-params ::= SEQUENCE {
 *     salt CHOICE { specified OCTET STRING, otherSource AlgorithmIdentifier },
 *     iterationCount INTEGER (1..MAX),
 *     keyLength INTEGER (1..MAX) OPTIONAL,
 *     prf AlgorithmIdentifier DEFAULT algid-hmacWithSHA1 }
 */
export function readPbkdf2(keyDerivationFunc: AsnNode | undefined, what: string): Pbkdf2Params {
  const [kdfOid, paramsNode] = sequenceItems(keyDerivationFunc, `${what} keyDerivationFunc`, 2);
  const kdf = oidValue(kdfOid, `${what} keyDerivationFunc`);
  if (kdf !== Pkcs12Oid.pbkdf2) throw unsupportedAlgorithm('key derivation function', kdf);
  const [saltNode, iterationsNode, ...rest] = sequenceItems(paramsNode, 'PBKDF2-params', 2, 4);
  if (isSequence(saltNode)) throw unsupportedAlgorithm('PBKDF2 otherSource salt', 'otherSource');
  const salt = octetsValue(saltNode, 'PBKDF2 salt');
  const iterations = checkIterations(smallIntegerValue(iterationsNode, 'PBKDF2 iterationCount'), 'PBKDF2');
  let keyLength: number | undefined;
  let prf: PrfHash = 'sha1';
  let next = rest.shift();
  if (next !== undefined && !isSequence(next)) {
    keyLength = smallIntegerValue(next, 'PBKDF2 keyLength');
    if (keyLength < 1 || keyLength > 64) throw new DecodeError('PBKDF2 keyLength out of range');
    next = rest.shift();
  }
  if (next !== undefined) prf = readPrf(next);
  if (rest.length > 0) throw new DecodeError('PBKDF2-params: unexpected fields');
  return { salt, iterations, ...(keyLength === undefined ? {} : { keyLength }), prf };
}

/** prf AlgorithmIdentifier: parameters are NULL or absent (RFC 8018 Appendix B.1). */
function readPrf(node: AsnNode): PrfHash {
  const [oidNode] = sequenceItems(node, 'PBKDF2 prf', 1, 2);
  const oid = oidValue(oidNode, 'PBKDF2 prf');
  const prf = prfByOid.get(oid);
  if (!prf) throw unsupportedAlgorithm('PBKDF2 pseudo-random function', oid);
  return prf;
}

/** PBKDF2 (RFC 8018 §5.2) through node:crypto; a keyLength in the params must agree with `length`. */
export function derivePbkdf2(params: Pbkdf2Params, password: Buffer, length: number): Buffer {
  if (params.keyLength !== undefined && params.keyLength !== length) {
    throw new DecodeError('PBKDF2 keyLength does not fit the cipher or MAC');
  }
  return pbkdf2Sync(password, params.salt, params.iterations, length, params.prf);
}
