import { contentCipherByName, decryptContent } from '../cms/content-ciphers.js';
import { type AsnNode, octetsValue, sequenceItems, smallIntegerValue } from '../cms/der-reader.js';
import { checkIterations } from './limits.js';
import { Pkcs12Oid } from './oids.js';
import { unsupportedAlgorithm } from './pkcs12-errors.js';
import { KdfPurpose, Pkcs12Hashes, pkcs12Kdf } from './pkcs12-kdf.js';

/** Triple-DES key sizes of the two pbeWithSHAAnd…TripleDES-CBC schemes (RFC 7292 Appendix C). */
const tripleDesKeyLength = new Map<string, number>([
  [Pkcs12Oid.pbeWithShaAnd3KeyTripleDesCbc, 24],
  [Pkcs12Oid.pbeWithShaAnd2KeyTripleDesCbc, 16],
]);

/**
 * RC2 and RC4 live in OpenSSL 3's legacy provider, which Node does not load. `openssl pkcs12
 * -export -legacy` (and older Windows exports) encrypt the certificates with RC2-40 and the key
 * with 3DES, so such a file fails here on the certificate bag, with the re-export advice.
 */
const legacyProviderOnly = new Map<string, string>([
  [Pkcs12Oid.pbeWithShaAnd40BitRc2Cbc, 'RC2-40 encryption (openssl -legacy, old Windows exports)'],
  [Pkcs12Oid.pbeWithShaAnd128BitRc2Cbc, 'RC2-128 encryption'],
  [Pkcs12Oid.pbeWithShaAnd40BitRc4, 'RC4-40 encryption'],
  [Pkcs12Oid.pbeWithShaAnd128BitRc4, 'RC4-128 encryption'],
]);

export function isPkcs12Pbe(oid: string): boolean {
  return tripleDesKeyLength.has(oid) || legacyProviderOnly.has(oid);
}

/**
 * Legacy PKCS#12 PBE (RFC 7292 Appendix C): key (ID 1) and IV (ID 2) from the Appendix B KDF with
 * SHA-1 over the BMPString password, then 3DES-CBC.
 *
 *   pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
 */
export function decryptPkcs12Pbe(
  oid: string,
  params: AsnNode | undefined,
  ciphertext: Buffer,
  bmpPassword: Buffer,
): Buffer {
  const keyLength = tripleDesKeyLength.get(oid);
  if (keyLength === undefined) throw unsupportedAlgorithm(legacyProviderOnly.get(oid) ?? 'PBE scheme', oid);
  const [saltNode, iterationsNode] = sequenceItems(params, 'pkcs-12PbeParams', 2);
  const salt = octetsValue(saltNode, 'PKCS#12 PBE salt');
  const iterations = checkIterations(
    smallIntegerValue(iterationsNode, 'PKCS#12 PBE iterations'),
    'PKCS#12 PBE',
  );
  const derived = pkcs12Kdf(Pkcs12Hashes.sha1, bmpPassword, salt, iterations, KdfPurpose.key, keyLength);
  const iv = pkcs12Kdf(Pkcs12Hashes.sha1, bmpPassword, salt, iterations, KdfPurpose.iv, 8);
  // two-key 3DES is K1 K2 K1
  const key = keyLength === 16 ? Buffer.concat([derived, derived.subarray(0, 8)]) : derived;
  return decryptContent(contentCipherByName('des-ede3-cbc'), key, iv, ciphertext);
}
