import { randomBytes } from 'node:crypto';

/**
 * Letters and digits without look-alikes (0/O, 1/l/I): the password may be shown to a user who
 * types it on a device that cannot take the encrypted form. 56 symbols, 5.8 bits each.
 */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
/** 32 symbols ≈ 186 bits: beyond brute force whatever the PKCS#12 KDF's iteration count. */
export const PASSWORD_LENGTH = 32;

/**
 * A fresh random PKCS#12 password, ASCII only so that the BMPString (MAC, legacy PBE) and UTF-8
 * (PBES2) encodings agree for every reader. Rejection sampling keeps the symbols uniform.
 */
export function randomPassword(length = PASSWORD_LENGTH): string {
  const limit = 256 - (256 % ALPHABET.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return out;
}
