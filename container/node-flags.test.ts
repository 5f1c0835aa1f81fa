import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applianceNodeFlags } from './node-flags.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The arguments of the Dockerfile's exec-form ENTRYPOINT. */
function entrypoint(dockerfile: string): string[] {
  const line = dockerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error('the Dockerfile has no ENTRYPOINT');
  return JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
}

describe('applianceNodeFlags: every launcher of the appliance passes them', () => {
  it('is not empty and holds only node/V8 options', () => {
    expect(applianceNodeFlags.length).toBeGreaterThan(0);
    for (const flag of applianceNodeFlags) expect(flag).toMatch(/^--[a-z0-9-]+(=\S+)?$/);
  });

  it('the container ENTRYPOINT runs node with them before the entrypoint script', () => {
    const args = entrypoint(read('Dockerfile'));
    const node = args.indexOf('node');
    expect(node).toBeGreaterThanOrEqual(0);
    expect(args.slice(node + 1, node + 1 + applianceNodeFlags.length)).toEqual(applianceNodeFlags);
    expect(args[node + 1 + applianceNodeFlags.length]).toBe('/app/dist/container/entrypoint-main.js');
  });

  it('npm start runs node with them', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toBe(`node ${applianceNodeFlags.join(' ')} dist/container/cli/main.js run`);
  });

  it('bench:tunnel starts the gateway with them', () => {
    const exec = read('bench/tunnel/outpost-server.sh')
      .split('\n')
      .find((l) => l.startsWith('exec node '));
    expect(exec?.startsWith(`exec node ${applianceNodeFlags.join(' ')} `)).toBe(true);
  });

  it.each(['container/cli/main.ts', 'container/entrypoint-main.ts'])(
    '%s: its shebang passes them (env -S splits the line)',
    (file) => {
      expect(read(file).split('\n')[0]).toBe(`#!/usr/bin/env -S node ${applianceNodeFlags.join(' ')}`);
    },
  );
});
