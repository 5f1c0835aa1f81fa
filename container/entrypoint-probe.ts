import { lstatSync, mkdirSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DirectoryState, FsProbe } from './entrypoint.js';

function ownerOf(dir: string): number | undefined {
  try {
    return statSync(dir).uid;
  } catch {
    return undefined;
  }
}

/** The data directory is small (CA, database, a few files); a bound keeps a stray tree cheap. */
const MAX_ENTRIES = 10_000;

/**
 * The first entry under `dir` (depth first) not owned by `uid`, as a path relative to `dir`.
 * Every file Outpost keeps is 0600 and every directory 0700, so an entry another uid owns is one
 * this process cannot open: typically `ca/` or the database created by a root process on a
 * shared volume. Root opens everything, so it is never blocked.
 */
export function firstForeignEntry(
  dir: string,
  uid: number | undefined,
  limit = MAX_ENTRIES,
): { path: string; ownerUid: number } | undefined {
  if (uid === undefined || uid === 0) return undefined;
  const pending = [dir];
  let seen = 0;
  while (pending.length > 0 && seen < limit) {
    const current = pending.pop()!;
    let names: string[];
    try {
      names = readdirSync(current);
    } catch {
      continue; // the directory itself is reported by its parent's entry, or by the write probe
    }
    for (const name of names) {
      if (++seen > limit) break;
      const path = join(current, name);
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (!stats) continue;
      // A socket is its server's (the gateway's admin-gateway.sock): this process never opens it.
      if (stats.uid !== uid && !stats.isSocket()) return { path: relative(dir, path), ownerUid: stats.uid };
      if (stats.isDirectory()) pending.push(path);
    }
  }
  return undefined;
}

/**
 * Writes and removes a file (access(W_OK) misses some read-only and rootless-volume cases), then
 * looks at what outpost will open under it: a writable directory holding a root-owned `ca/` still
 * fails later with EACCES.
 */
function inspectDataDir(dir: string): DirectoryState {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.outpost-write-test-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
    const foreign = firstForeignEntry(dir, process.getuid?.());
    if (foreign) {
      return {
        exists: true,
        writable: false,
        ownerUid: foreign.ownerUid,
        blockedPath: foreign.path,
        error: 'EACCES',
      };
    }
    return { exists: true, writable: true };
  } catch (e) {
    const ownerUid = ownerOf(dir);
    return {
      exists: ownerUid !== undefined,
      writable: false,
      ...(ownerUid !== undefined ? { ownerUid } : {}),
      error: (e as NodeJS.ErrnoException).code ?? String(e),
    };
  }
}

export const realFsProbe: FsProbe = {
  inspectDataDir,
  uid: () => process.getuid?.(),
};
