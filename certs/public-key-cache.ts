import { createPublicKey, type KeyObject } from 'node:crypto';

/**
 * OpenSSL 3's decoders make `createPublicKey` cost about half a millisecond for an RSA SPKI, and
 * one SCEP enrollment meets the same device key three times (signer certificate, CSR, envelope
 * recipient). A small bounded memo keyed by the SPKI bytes makes that one decode.
 */
const maxEntries = 512;
const cache = new Map<string, KeyObject>();

export function publicKeyFromSpki(spkiDer: Uint8Array): KeyObject {
  const key = Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength).toString('base64');
  const hit = cache.get(key);
  if (hit) return hit;
  const publicKey = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
  cache.set(key, publicKey);
  return publicKey;
}
