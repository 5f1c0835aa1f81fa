import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Name of the file holding the local admin API's bearer token, in the data directory. */
export const adminTokenFile = 'admin-token';

/**
 * The local admin API (sessions list/disconnect) takes a bearer token kept in the data directory
 * (0600): the CLI, run by someone who can read the data directory, can use it; anything else that
 * reaches the admin port cannot.
 */
export async function ensureAdminToken(dataDir: string): Promise<string> {
  const file = join(dataDir, adminTokenFile);
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 32) return existing.trim();
  const token = randomBytes(32).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

export async function readAdminToken(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, adminTokenFile), 'utf8')).trim();
}
