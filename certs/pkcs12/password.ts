/**
 * One password, encoded the two ways a PKCS#12 file uses it:
 * - `bmp` for the PKCS#12 KDF (MAC key, legacy PBE): RFC 7292 Appendix B.1, a BMPString, i.e.
 *   UTF-16BE followed by two zero bytes. Characters beyond U+FFFF become surrogate pairs, as in
 *   OpenSSL's OPENSSL_utf82uni.
 * - `utf8` for PBES2/PBKDF2 and PBMAC1: RFC 8018 §3 leaves the octet encoding to the application;
 *   OpenSSL (and so every file `openssl pkcs12 -export` writes) passes the UTF-8 bytes.
 */
export interface PasswordBytes {
  bmp: Buffer;
  utf8: Buffer;
}

export function passwordBytes(password: string): PasswordBytes {
  const bmp = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) bmp.writeUInt16BE(password.charCodeAt(i), i * 2);
  return { bmp, utf8: Buffer.from(password, 'utf8') };
}

/**
 * The encodings to try for the MAC. An empty password is ambiguous in practice: OpenSSL encodes ""
 * as the two-byte terminator, but files written with "no password" (NULL) use an empty P in the
 * KDF, and OpenSSL's PKCS12_parse tries both. Whichever verifies the MAC is then used to decrypt.
 */
export function passwordCandidates(password: string): PasswordBytes[] {
  const encoded = passwordBytes(password);
  if (password.length > 0) return [encoded];
  return [encoded, { bmp: Buffer.alloc(0), utf8: Buffer.alloc(0) }];
}
