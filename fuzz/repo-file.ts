import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Seeds are the repository's own fixtures. The fuzz code runs from fuzz/ (vitest) and from
 * dist-tools/fuzz (npm run fuzz), so find the checkout root by its package.json instead of a fixed `..`.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fuzz', 'fixtures'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('fuzz: cannot find the repository root (fuzz/fixtures)');
    dir = parent;
  }
}

const root = findRoot();

export function repoFile(path: string): Buffer {
  return readFileSync(join(root, path));
}
