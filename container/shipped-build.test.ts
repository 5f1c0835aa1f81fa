import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Test helpers live in a folder named `testing/` (next to the code they serve; `test/testing/`
 * for the interop suites; the shared test PKI kit in `certs/testing/`), so that one pattern keeps
 * them, like the tests, out of `npm run build` and so out of the image and the npm package.
 * Benchmarks and the fuzzer build with tsconfig.tools.json into dist-tools/ (npm run build:tools).
 */
const root = join(import.meta.dirname, '..');
const posix = (path: string) => relative(root, path).split(sep).join('/');

/** Not product: a test, a test helper (by the rule or by an old name), the interop suites, benchmarks, the fuzzer. */
const notShipped = (path: string) =>
  /\.test\.ts$/.test(path) || /(^|\/)(testing\/|test-)/.test(path) || /^(test|bench|fuzz)\//.test(path);

/** Every file `tsc -p tsconfig.build.json` compiles: its include list plus whatever those import. */
function shippedSources(): string[] {
  const file = join(root, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
  return ts
    .createProgram(parsed.fileNames, parsed.options)
    .getSourceFiles()
    .map((source) => posix(source.fileName))
    .filter((path) => !path.startsWith('node_modules/') && !path.startsWith('..'));
}

/** Source files outside testing/ whose name says they are for tests but that are not tests. */
function misnamedHelpers(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (
        ['node_modules', 'dist', 'dist-tools', 'fixtures', 'testing'].includes(entry.name) ||
        entry.name.startsWith('.')
      )
        continue;
      if (/^test-|^test$/.test(entry.name) && dir !== root) found.push(posix(path));
      else found.push(...misnamedHelpers(path));
    } else if (
      /^test[-_.]/.test(entry.name) &&
      /\.(ts|mjs)$/.test(entry.name) &&
      !/\.test\.ts$/.test(entry.name)
    ) {
      found.push(posix(path));
    }
  }
  return found;
}

describe('the shipped build', () => {
  it('compiles no test and no test helper, even through an import', () => {
    const sources = shippedSources();
    expect(sources).toContain('container/cli/main.ts');
    expect(sources.filter(notShipped)).toEqual([]);
  });

  it('finds every test helper under a folder named testing/', () => {
    expect(misnamedHelpers(root)).toEqual([]);
  });
});
