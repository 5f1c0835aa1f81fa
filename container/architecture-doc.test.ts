import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/architecture.md has one line per folder of the repository. Whoever adds, moves or removes
// a folder changes that line in the same commit: this test names the folders it misses.

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Folders that hold tracked files, from git (a checkout's data/ or dist/ are not the code). */
function trackedFolders(): string[] | undefined {
  let files: string;
  try {
    files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 << 20 });
  } catch {
    return undefined;
  }
  const folders = new Set<string>();
  for (const file of files.split('\0').filter(Boolean)) {
    const parts = file.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) folders.add(`${parts.slice(0, i).join('/')}/`);
  }
  return [...folders].sort();
}

/** The first column of the folder map: `| \`gateway/tun/\` | …`. */
function mappedFolders(): string[] {
  const text = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');
  const map = text.slice(
    text.indexOf('## Folder map'),
    text.indexOf('\n## ', text.indexOf('## Folder map') + 1),
  );
  return [...map.matchAll(/^\| `([^`]+\/)` \|/gm)].map(([, folder = '']) => folder);
}

const tracked = trackedFolders();

describe.skipIf(tracked === undefined)('docs/architecture.md folder map', () => {
  it('has a line for every folder of the repository, and none for a folder that is gone', () => {
    const mapped = mappedFolders();
    expect(mapped.length).toBeGreaterThan(50);
    expect({
      missing: tracked!.filter((folder) => !mapped.includes(folder)),
      gone: mapped.filter((folder) => !tracked!.includes(folder)),
    }).toEqual({ missing: [], gone: [] });
  });
});
