import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** Creates `dir` (and parents) and forces mode 0700: it holds private keys (DESIGN rule 6). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * Writes `data` to `path` atomically (temp file in the same directory, then rename) so a reader or a
 * crash never sees a half-written file. `mode` applies at creation only, hence the explicit chmod
 * (an umask could have narrowed or a pre-existing temp widened it).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function pathIn(dir: string, name: string): string {
  return join(dir, name);
}
