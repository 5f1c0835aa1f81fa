import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, OutpostError } from '../core/errors.js';

/**
 * Creates the data directory (and its parents) if missing, private to the service user: it holds
 * CA keys. Existing directories keep their mode.
 */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new OutpostError(ErrorCodes.config, `the data directory ${dir} cannot be created (${code})`, {
      cause: e,
    });
  }
}

/**
 * Narrows everything already in the data directory to 0600 (files) and 0700 (directories), so a
 * directory written by an older version, or a file an operator copied in, follows the rule too.
 * Symbolic links are not followed. Returns how many entries were changed.
 */
export function makeDataDirPrivate(dir: string): number {
  let changed = 0;
  const visit = (path: string, depth: number) => {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (!stat || stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() ? 0o700 : 0o600;
    if ((stat.mode & 0o777) !== wanted && ownedByUs(stat.uid)) {
      chmodSync(path, wanted);
      changed++;
    }
    // The tree is Outpost's own and shallow (ca/, link/, pkcs/…): a depth cap stops a loop anyway.
    if (stat.isDirectory() && depth < 16) {
      for (const name of readdirOrNothing(path)) visit(join(path, name), depth + 1);
    }
  };
  visit(dir, 0);
  return changed;
}

/**
 * The compose file runs the connector (uid 10001) and the gateway (root) on one volume: each
 * narrows what it owns (root owns all) and leaves the rest to its owner, which narrows it at its
 * own start.
 */
function ownedByUs(uid: number): boolean {
  const me = process.getuid?.();
  return me === undefined || me === 0 || me === uid;
}

function readdirOrNothing(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return [];
    throw e;
  }
}

/**
 * A root process (the gateway service: root in its container for CAP_NET_ADMIN) sharing the data
 * volume with the unprivileged connector gives what it created to the directory's owner, so the
 * connector can still open `ca/`, the database and the rest (every file is 0600: a root-owned one
 * is unreadable to uid 10001). Does nothing unless running as root in a directory another uid
 * owns. Returns how many entries changed owner.
 */
export function handDataDirToOwner(dir: string, limit = 10_000): number {
  if (process.getuid?.() !== 0) return 0;
  const owner = statSync(dir, { throwIfNoEntry: false });
  if (!owner || owner.uid === 0) return 0;
  let changed = 0;
  let seen = 0;
  const pending = [dir];
  while (pending.length > 0 && seen < limit) {
    const current = pending.pop()!;
    for (const name of readdirOrNothing(current)) {
      if (++seen > limit) break;
      const path = join(current, name);
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (!stats) continue;
      if (stats.uid !== owner.uid) {
        try {
          lchownSync(path, owner.uid, owner.gid);
          changed++;
        } catch {
          // gone meanwhile, or a read-only file system: the connector's own check reports it
        }
      }
      if (stats.isDirectory()) pending.push(path);
    }
  }
  return changed;
}
