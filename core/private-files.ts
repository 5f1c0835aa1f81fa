import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';

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

/** The file's content, or undefined when it does not exist (any other error is thrown). */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Before SQLite opens `file`: creates it 0600 if missing and narrows an existing one (and its
 * -wal, -shm and -journal companions) to 0600. SQLite creates the companions with the mode of the
 * database file, so they are private from their first byte. `:memory:` and URIs are left alone.
 */
export function makeDatabaseFilePrivate(file: string): void {
  if (file === ':memory:' || file === '' || file.startsWith('file:')) return;
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}
