import { createCipheriv, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { algorithmIdentifier, derNull, integer, octetString, sequence } from '../der-writer.js';
import { Pkcs12Oid } from './oids.js';
import type { PasswordBytes } from './password.js';
import { KdfPurpose, Pkcs12Hashes, pkcs12Kdf } from './pkcs12-kdf.js';

/** AES-256-CBC (RFC 3565 §4.1 OID) as PBES2's encryptionScheme. */
const AES_256_CBC = '2.16.840.1.101.3.4.1.42';

/**
 * Salt length for PBKDF2, the PKCS#12 PBE and the MAC: OpenSSL 3 writes 8 bytes everywhere
 * (PKCS5_SALT_LEN); RFC 8018 §4.1 asks for at least 8.
 */
const SALT_BYTES = 8;

/** An encrypted payload and the AlgorithmIdentifier (DER) that says how to decrypt it. */
export interface PasswordEncrypted {
  algorithmDer: Buffer;
  ciphertext: Buffer;
}

/**
 * How `modern` and `legacy` files protect their contents; both encrypt every bag with `encrypt`
 * and authenticate the AuthenticatedSafe with `mac`.
 */
export interface Pkcs12Protector {
  encrypt(plaintext: Uint8Array): PasswordEncrypted;
  mac(authSafe: Uint8Array): Buffer;
}

/**
 * OpenSSL 3's `openssl pkcs12 -export` defaults: PBES2 (RFC 8018 §6.2) with PBKDF2-HMAC-SHA256 over
 * the UTF-8 password and AES-256-CBC, and a SHA-256 MacData whose key comes from the PKCS#12 KDF
 * (RFC 7292 Appendix B) over the BMPString password.
 */
export function modernProtector(password: PasswordBytes, iterations: number): Pkcs12Protector {
  return {
    encrypt: (plaintext) => encryptPbes2(plaintext, password.utf8, iterations),
    mac: (authSafe) => macData(authSafe, password.bmp, iterations, 'sha256'),
  };
}

/**
 * What devices without PBES2 accept (Windows before Server 2019, Android before 11, older iOS):
 * pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 Appendix C) for key and certificates and a SHA-1 MAC,
 * i.e. `openssl pkcs12 -export -legacy -certpbe PBE-SHA1-3DES`. RC2-40, OpenSSL's legacy default
 * for certificates, is not in Node's OpenSSL 3 default provider, and 3DES is read everywhere RC2 is.
 */
export function legacyProtector(password: PasswordBytes, iterations: number): Pkcs12Protector {
  return {
    encrypt: (plaintext) => encryptPbeSha1TripleDes(plaintext, password.bmp, iterations),
    mac: (authSafe) => macData(authSafe, password.bmp, iterations, 'sha1'),
  };
}

/**
 *   PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }
 *   PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, prf AlgorithmIdentifier }
 * keyLength is omitted, as OpenSSL does for fixed-length ciphers (RFC 8018 Appendix A.2: OPTIONAL).
 */
function encryptPbes2(plaintext: Uint8Array, utf8Password: Buffer, iterations: number): PasswordEncrypted {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(utf8Password, salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const pbkdf2 = algorithmIdentifier(
    Pkcs12Oid.pbkdf2,
    sequence(octetString(salt), integer(iterations), algorithmIdentifier(Pkcs12Oid.hmacWithSha256, derNull)),
  );
  const scheme = algorithmIdentifier(AES_256_CBC, octetString(iv));
  return { algorithmDer: algorithmIdentifier(Pkcs12Oid.pbes2, sequence(pbkdf2, scheme)), ciphertext };
}

/**
 * RFC 7292 Appendix C: key (ID 1, 24 bytes) and IV (ID 2, 8 bytes) from the Appendix B KDF with
 * SHA-1, then DES-EDE3-CBC with PKCS#5 padding.
 *
 *   pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
 */
function encryptPbeSha1TripleDes(
  plaintext: Uint8Array,
  bmpPassword: Buffer,
  iterations: number,
): PasswordEncrypted {
  const salt = randomBytes(SALT_BYTES);
  const key = pkcs12Kdf(Pkcs12Hashes.sha1, bmpPassword, salt, iterations, KdfPurpose.key, 24);
  const iv = pkcs12Kdf(Pkcs12Hashes.sha1, bmpPassword, salt, iterations, KdfPurpose.iv, 8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    algorithmDer: algorithmIdentifier(
      Pkcs12Oid.pbeWithShaAnd3KeyTripleDesCbc,
      sequence(octetString(salt), integer(iterations)),
    ),
    ciphertext,
  };
}

/**
 * RFC 7292 §4 and Appendix B.4: HMAC over the AuthenticatedSafe content octets, keyed with u bytes
 * from the PKCS#12 KDF (ID 3) using the same hash.
 *
 *   MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER }
 */
function macData(
  authSafe: Uint8Array,
  bmpPassword: Buffer,
  iterations: number,
  hash: 'sha1' | 'sha256',
): Buffer {
  const kdfHash = Pkcs12Hashes[hash];
  const salt = randomBytes(SALT_BYTES);
  const key = pkcs12Kdf(kdfHash, bmpPassword, salt, iterations, KdfPurpose.mac, kdfHash.u);
  const digest = createHmac(hash, key).update(authSafe).digest();
  const digestOid = hash === 'sha1' ? Pkcs12Oid.sha1 : Pkcs12Oid.sha256;
  return sequence(
    sequence(algorithmIdentifier(digestOid, derNull), octetString(digest)),
    octetString(salt),
    integer(iterations),
  );
}
