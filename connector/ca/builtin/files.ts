import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** File names of the built-in CA's material inside its directory. */
export const CaFiles = {
  caCert: 'ca.pem',
  caKey: 'ca.key',
  raCert: 'ra.pem',
  raKey: 'ra.key',
  crl: 'crl.der',
  /** Delegated OCSP signing certificate and key (connector/ca/builtin/ocsp-signer.ts). */
  ocspCert: 'ocsp.pem',
  ocspKey: 'ocsp.key',
} as const;

export { ensurePrivateDir, readIfExists, writeFileAtomic } from '../../../core/private-files.js';

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export function pathIn(dir: string, name: string): string {
  return join(dir, name);
}
