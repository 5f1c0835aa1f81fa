import type { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { FileKeyStore } from '../../connector/ca/keys/file-key-store.js';
import type { KeyStore } from '../../connector/ca/keys/key-store.js';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import { readSecretFile } from './ca-backend-factory.js';

/**
 * The signer port's store (file keys live in `caDir`) `keys.store` names. The PKCS#11 binding (a native addon) is loaded only
 * when a token is configured. Every process (cluster worker, CLI verb) opens its own; a wrong
 * PIN, a missing module or token fails here with OUTPOST_ERR_KEY_STORE, before anything listens.
 */
/**
 * /readyz `keys`: whether the CA's key store can sign and decrypt now. Critical: without it no
 * certificate, CertRep, CRL or OCSP answer can be signed, so a load balancer should send SCEP
 * elsewhere. `core` is read on each check because reconfiguration swaps the core.
 */
export function registerKeyStoreHealth(readiness: Readiness, core: () => { ca: BuiltinCa }): void {
  readiness.register('keys', () => core().ca.keyStore.health());
}

export async function openKeyStore(config: OutpostConfig, caDir: string): Promise<KeyStore> {
  const { keys } = config;
  if (keys.store === 'file' || !keys.pkcs11) return new FileKeyStore(caDir);
  const pin = await readSecretFile(keys.pkcs11.pinFile, 'keys.pkcs11.pinFile');
  const { Pkcs11KeyStore } = await import('../../connector/ca/keys/pkcs11/pkcs11-key-store.js');
  return Pkcs11KeyStore.open({ module: keys.pkcs11.module, tokenLabel: keys.pkcs11.tokenLabel, pin });
}
