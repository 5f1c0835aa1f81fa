import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { readIfExists, writeFileAtomic } from '../files.js';

export const SIGNING_KEY_FILE = 'signing-key.pem';

/** The ES256 key that signs SCEP challenges and user tokens; its public half is the JWKS. */
export interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  publicJwk: JWK;
}

/** Loads DIR/signing-key.pem, creating it (0600) on first start. kid = RFC 7638 thumbprint. */
export async function openSigningKey(dir: string): Promise<SigningKey> {
  const path = join(dir, SIGNING_KEY_FILE);
  const existing = await readIfExists(path);
  let privateKey: KeyObject;
  if (existing) {
    privateKey = createPrivateKey(existing);
  } else {
    privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  }
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { privateKey, kid, publicJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' } };
}
