import { mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DirectoryState, FsProbe } from './entrypoint.js';

function ownerOf(dir: string): number | undefined {
  try {
    return statSync(dir).uid;
  } catch {
    return undefined;
  }
}

/** Writes and removes a file: access(W_OK) misses some read-only and rootless-volume cases. */
function inspectDataDir(dir: string): DirectoryState {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.outpost-write-test-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
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
