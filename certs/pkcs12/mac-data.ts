import { createHmac, timingSafeEqual } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import { type AsnNode, octetsValue, oidValue, sequenceItems, smallIntegerValue } from '../cms/der-reader.js';
import { checkIterations } from './limits.js';
import { Pkcs12Oid } from './oids.js';
import type { PasswordBytes } from './password.js';
import { derivePbkdf2, readPbkdf2 } from './pbkdf2-params.js';
import { unsupportedAlgorithm, wrongPassword } from './pkcs12-errors.js';
import { KdfPurpose, type Pkcs12Hash, Pkcs12Hashes, pkcs12Kdf } from './pkcs12-kdf.js';

const macHashByOid = new Map<string, Pkcs12Hash>([
  [Pkcs12Oid.sha1, Pkcs12Hashes.sha1],
  [Pkcs12Oid.sha224, Pkcs12Hashes.sha224],
  [Pkcs12Oid.sha256, Pkcs12Hashes.sha256],
  [Pkcs12Oid.sha384, Pkcs12Hashes.sha384],
  [Pkcs12Oid.sha512, Pkcs12Hashes.sha512],
]);

const hmacHashByOid = new Map<string, Pkcs12Hash>([
  [Pkcs12Oid.hmacWithSha1, Pkcs12Hashes.sha1],
  [Pkcs12Oid.hmacWithSha224, Pkcs12Hashes.sha224],
  [Pkcs12Oid.hmacWithSha256, Pkcs12Hashes.sha256],
  [Pkcs12Oid.hmacWithSha384, Pkcs12Hashes.sha384],
  [Pkcs12Oid.hmacWithSha512, Pkcs12Hashes.sha512],
]);

/** A way to compute the MAC for one password encoding. */
type MacFunction = (password: PasswordBytes) => Buffer;

/**
 * Checks the password-integrity MAC over the AuthenticatedSafe content octets (RFC 7292 §4, §5.1)
 * and returns the password encoding that verified it (see passwordCandidates). A mismatch is the
 * usual sign of a wrong password: badSignature.
 *
 *   MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
 *   DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }
 */
export function verifyMacData(
  macData: AsnNode,
  authSafeContent: Buffer,
  candidates: PasswordBytes[],
): PasswordBytes {
  const [digestInfo, saltNode, iterationsNode] = sequenceItems(macData, 'MacData', 2, 3);
  const [algorithm, digestNode] = sequenceItems(digestInfo, 'MacData DigestInfo', 2);
  const expected = octetsValue(digestNode, 'MacData digest');
  const salt = octetsValue(saltNode, 'MacData macSalt');
  const iterations =
    iterationsNode === undefined
      ? 1
      : checkIterations(smallIntegerValue(iterationsNode, 'MacData iterations'), 'MAC');
  const mac = macFunction(algorithm, salt, iterations, authSafeContent);
  for (const password of candidates) {
    const actual = mac(password);
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return password;
  }
  throw wrongPassword('MAC does not verify');
}

function macFunction(
  algorithm: AsnNode | undefined,
  salt: Buffer,
  iterations: number,
  content: Buffer,
): MacFunction {
  const [oidNode, params] = sequenceItems(algorithm, 'MacData digestAlgorithm', 1, 2);
  const oid = oidValue(oidNode, 'MacData digestAlgorithm');
  if (oid === Pkcs12Oid.pbmac1) return pbmac1(params, content);
  const hash = macHashByOid.get(oid);
  if (!hash) throw unsupportedAlgorithm('MAC digest', oid);
  // RFC 7292 Appendix B.4: the HMAC key is u bytes from the KDF with ID 3, then HMAC with the same hash
  return (password) => {
    const key = pkcs12Kdf(hash, password.bmp, salt, iterations, KdfPurpose.mac, hash.u);
    return createHmac(hash.name, key).update(content).digest();
  };
}

/**
 * RFC 9579 (PBMAC1 in PKCS#12, RFC 8018 §7.1): the key comes from PBKDF2 over the UTF-8 password
 * with the KDF's own salt and count; MacData's macSalt and iterations are then ignored.
 *
 *   PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, messageAuthScheme AlgorithmIdentifier }
 */
function pbmac1(params: AsnNode | undefined, content: Buffer): MacFunction {
  const [keyDerivationFunc, scheme] = sequenceItems(params, 'PBMAC1-params', 2);
  const pbkdf2 = readPbkdf2(keyDerivationFunc, 'PBMAC1');
  // RFC 9579 §3: keyLength MUST be present, the key is that long
  if (pbkdf2.keyLength === undefined) throw new DecodeError('PBMAC1: PBKDF2 keyLength missing');
  const keyLength = pbkdf2.keyLength;
  const [schemeOid] = sequenceItems(scheme, 'PBMAC1 messageAuthScheme', 1, 2);
  const schemeName = oidValue(schemeOid, 'PBMAC1 messageAuthScheme');
  const hash = hmacHashByOid.get(schemeName);
  if (!hash) throw unsupportedAlgorithm('PBMAC1 MAC scheme', schemeName);
  return (password) =>
    createHmac(hash.name, derivePbkdf2(pbkdf2, password.utf8, keyLength))
      .update(content)
      .digest();
}
