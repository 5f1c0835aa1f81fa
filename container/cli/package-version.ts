import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in package.json. Walks up from this file because it runs both from the sources
 * (container/cli) and from dist/container/cli, at different depths.
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'outpost' && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level; keep walking up
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}
