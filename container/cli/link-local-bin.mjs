// `npx outpost` looks in node_modules/.bin, where npm links the bins of dependencies but not the
// project's own. After `npm ci` builds dist/, link ours there too so `npx outpost …` runs it.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'node_modules', '.bin');
mkdirSync(bin, { recursive: true });
const link = join(bin, 'outpost');
rmSync(link, { force: true });
symlinkSync(join('..', '..', 'dist', 'container', 'cli', 'main.js'), link);
chmodSync(join(root, 'dist', 'container', 'cli', 'main.js'), 0o755);
