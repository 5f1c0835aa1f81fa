/** Object identifiers of PKCS#12 (RFC 7292), PKCS#5 (RFC 8018), PBMAC1 (RFC 9579) and what they carry. */
export const Pkcs12Oid = {
  // RFC 5652 / PKCS#7 content types that an AuthenticatedSafe holds (RFC 7292 §4.1)
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',

  // SafeBag types (RFC 7292 §4.2)
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  crlBag: '1.2.840.113549.1.12.10.1.4',
  secretBag: '1.2.840.113549.1.12.10.1.5',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',

  // CertBag certId (RFC 7292 §4.2.3) and bag attributes (RFC 2985 §5.5.1, §5.5.2)
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',

  // PKCS#12 password-based encryption (RFC 7292 Appendix C)
  pbeWithShaAnd128BitRc4: '1.2.840.113549.1.12.1.1',
  pbeWithShaAnd40BitRc4: '1.2.840.113549.1.12.1.2',
  pbeWithShaAnd3KeyTripleDesCbc: '1.2.840.113549.1.12.1.3',
  pbeWithShaAnd2KeyTripleDesCbc: '1.2.840.113549.1.12.1.4',
  pbeWithShaAnd128BitRc2Cbc: '1.2.840.113549.1.12.1.5',
  pbeWithShaAnd40BitRc2Cbc: '1.2.840.113549.1.12.1.6',

  // PKCS#5 v2.1 (RFC 8018 Appendix A and B) and PBMAC1 (RFC 8018 §7.1, RFC 9579)
  pbkdf2: '1.2.840.113549.1.5.12',
  pbes2: '1.2.840.113549.1.5.13',
  pbmac1: '1.2.840.113549.1.5.14',
  hmacWithSha1: '1.2.840.113549.2.7',
  hmacWithSha224: '1.2.840.113549.2.8',
  hmacWithSha256: '1.2.840.113549.2.9',
  hmacWithSha384: '1.2.840.113549.2.10',
  hmacWithSha512: '1.2.840.113549.2.11',
  rc2Cbc: '1.2.840.113549.3.2',

  // Digests for MacData (RFC 7292 §4)
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;
