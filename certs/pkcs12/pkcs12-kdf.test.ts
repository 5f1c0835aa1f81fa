import { describe, expect, it } from 'vitest';
import { passwordBytes } from './password.js';
import { KdfPurpose, Pkcs12Hashes, pkcs12Kdf } from './pkcs12-kdf.js';

describe('pkcs12Kdf (RFC 7292 Appendix B.2)', () => {
  // vectors from the Bouncy Castle PKCS12 key generator tests (password "smeg", SHA-1)
  const salt = Buffer.from('0a58cf64530d823f', 'hex');
  it('derives the key and IV bytes', () => {
    const bmp = passwordBytes('smeg').bmp;
    expect(pkcs12Kdf(Pkcs12Hashes.sha1, bmp, salt, 1, KdfPurpose.key, 24).toString('hex')).toBe(
      '8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3',
    );
    expect(pkcs12Kdf(Pkcs12Hashes.sha1, bmp, salt, 1, KdfPurpose.iv, 8).toString('hex')).toBe(
      '79993dfe048d3b76',
    );
  });

  it('encodes the password as a zero-terminated BMPString (Appendix B.1)', () => {
    expect(passwordBytes('ab').bmp).toEqual(Buffer.from([0, 0x61, 0, 0x62, 0, 0]));
    expect(passwordBytes('€').bmp).toEqual(Buffer.from([0x20, 0xac, 0, 0]));
    expect(passwordBytes('').bmp).toEqual(Buffer.from([0, 0]));
  });
});
