import { algorithmIdentifier, derNull, octetString, sequence, tlv } from './der-writer.js';
import { Oid } from './oids.js';
import type { HashName } from './signer.js';

const hashOids: Record<HashName, string> = {
  sha1: Oid.sha1,
  sha256: Oid.sha256,
  sha384: Oid.sha384,
  sha512: Oid.sha512,
};

/**
 * DigestInfo (RFC 8017 §9.2 step 2): what an RSASSA-PKCS1-v1_5 signature encrypts. A key store
 * that signs with the bare CKM_RSA_PKCS mechanism (PKCS#11 v2.40 §2.1.6) is handed this, so the
 * hash is computed here and every token that can do raw PKCS#1 v1.5 can sign any hash.
 */
export function digestInfo(hash: HashName, digest: Uint8Array): Buffer {
  return sequence(algorithmIdentifier(hashOids[hash], derNull), octetString(digest));
}

/** A non-negative INTEGER from big-endian magnitude bytes (X.690 §8.3: minimal, sign bit clear). */
function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return (bytes[0] ?? 0) & 0x80 ? tlv(0x02, Buffer.from([0]), bytes) : tlv(0x02, bytes);
}

/**
 * ECDSA-Sig-Value (RFC 5480 §2.2.3 / RFC 3279 §2.2.3) from the r ‖ s form PKCS#11's CKM_ECDSA
 * returns (PKCS#11 v2.40 §2.3.1: two halves of equal length).
 */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new RangeError('ECDSA signature of odd length');
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}
