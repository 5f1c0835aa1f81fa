import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readIfExists } from '../../core/private-files.js';

/**
 * Reads a secret file, creating it with `create()` (mode 0600, directory 0700: DESIGN rule 6) the
 * first time. Creation is "first writer wins": the content goes to a temp file that is then
 * hard-linked into place, which fails if the file appeared meanwhile, so two processes sharing the
 * data directory (`outpost run` and a CLI verb) never end up holding different keys.
 */
export async function readOrCreatePrivateFile(path: string, create: () => Promise<Buffer>): Promise<Buffer> {
  const existing = await readIfExists(path);
  if (existing) return existing;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const content = await create();
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await rm(tmp, { force: true });
  }
  return readFile(path);
}
