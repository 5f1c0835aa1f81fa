import type { ContentCipherName } from '../../../certs/cms/index.js';

/**
 * The content cipher of a CertRep envelope, given the request's. RFC 8894 §3.5.2 lets the CA use
 * any cipher the client advertised support for, but the request is the only evidence we have.
 * - AES request → AES-256-CBC (certmonger sends AES-256 when AES is in the caps).
 * - DES / 3DES request → 3DES. micromdm scepclient 2.1.0 always sends single DES, yet decrypts
 *   3DES and AES-CBC replies too (verified against this codec, see fixtures/README.md); single DES
 *   is never sent back because certmonger's OpenSSL only decrypts it with the legacy provider on.
 */
export function chooseReplyCipher(requestCipher: ContentCipherName | undefined): ContentCipherName {
  if (requestCipher?.startsWith('aes-')) return 'aes-256-cbc';
  return 'des-ede3-cbc';
}
