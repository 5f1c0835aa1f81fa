import { createPublicKey, type KeyObject } from 'node:crypto';
import { bitStringValue, parseDer, rawDer, sequenceItems } from './der-reader.js';
import { tlv } from './der-writer.js';

/**
 * OpenSSL 3's decoders make `createPublicKey` of an SPKI cost about 0.1 ms for an RSA key (more
 * than the rest of a request's parsing), and one SCEP enrollment meets the same device key three
 * times (signer certificate, CSR, envelope recipient). A small bounded memo keyed by the SPKI
 * bytes makes that one decode, and an RSA SPKI is imported through its PKCS#1 key (below).
 */
const maxEntries = 512;
const cache = new Map<string, KeyObject>();

export function publicKeyFromSpki(spkiDer: Uint8Array): KeyObject {
  const key = Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength).toString('base64');
  const hit = cache.get(key);
  if (hit) return hit;
  const publicKey = importSpki(Buffer.from(spkiDer));
  if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
  cache.set(key, publicKey);
  return publicKey;
}

/** AlgorithmIdentifier { rsaEncryption, NULL } in DER (RFC 3279 §2.3.1). */
const rsaEncryptionAlgorithm = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/**
 * The RSAPublicKey (PKCS#1) an rsaEncryption SPKI carries in its BIT STRING, when the SPKI is
 * exactly `SEQUENCE { rsaEncryption NULL, BIT STRING (no unused bits) }` in DER (checked by
 * writing it again); anything else (EC, RSA-PSS, BER, other parameters) is undefined.
 */
function rsaPublicKeyOf(spki: Buffer): Buffer | undefined {
  try {
    const [algorithm, key] = sequenceItems(parseDer(spki, 'SPKI', spki.length), 'SPKI', 2);
    if (!rawDer(algorithm!).equals(rsaEncryptionAlgorithm)) return undefined;
    const { unusedBits, bytes } = bitStringValue(key, 'subjectPublicKey');
    if (unusedBits !== 0) return undefined;
    const rewritten = tlv(0x30, rsaEncryptionAlgorithm, tlv(0x03, Buffer.of(0), bytes));
    return rewritten.equals(spki) ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The same KeyObject as `createPublicKey(spki)`: Node imports a PKCS#1 RSA key straight
 * (d2i_RSAPublicKey, ~6 µs here) where an SPKI goes through the decoder chain (~100 µs). A PKCS#1
 * key OpenSSL refuses, and every other SPKI, take the SPKI import and its errors.
 */
function importSpki(spki: Buffer): KeyObject {
  const rsa = rsaPublicKeyOf(spki);
  if (rsa) {
    try {
      return createPublicKey({ key: rsa, format: 'der', type: 'pkcs1' });
    } catch {
      // fall through: the SPKI import says what is wrong
    }
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}
