import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { loadConfig } from './load-config.js';
import { configSchema } from './schema.js';

// The example is the reference documentation of the configuration: it must load, it must hold
// the defaults (copying it changes nothing), and a key added to the schema must be explained there.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'config/outpost.example.yaml');

/** Every example config: the files in config/ and the yaml blocks of the README, as files. */
function exampleConfigs(): Array<[string, string]> {
  const files = readdirSync(join(ROOT, 'config'))
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name): [string, string] => [`config/${name}`, join(ROOT, 'config', name)]);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-readme-yaml-'));
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map(([, text = ''], i): [string, string] => {
    const file = join(dir, `block-${i}.yaml`);
    writeFileSync(file, text);
    return [`README.md yaml block ${i + 1}`, file];
  });
  return [...files, ...blocks];
}

/** Every key path the schema knows; `*` stands for a name chosen by the user (a profile, a group). */
function schemaKeys(schema: z.core.$ZodType, path: string[] = []): string[][] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const inner = (key: string) => def[key] as z.core.$ZodType;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([key, child]) => [
        [...path, key],
        ...schemaKeys(child, [...path, key]),
      ]);
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
      return schemaKeys(inner('innerType'), path);
    case 'pipe':
      return [...schemaKeys(inner('in'), path), ...schemaKeys(inner('out'), path)];
    case 'record':
      return schemaKeys(inner('valueType'), [...path, '*']);
    case 'array':
      return schemaKeys(inner('element'), path);
    case 'union':
      return (def.options as z.core.$ZodType[]).flatMap((option) => schemaKeys(option, path));
    default:
      return [];
  }
}

const TOP_LEVEL = Object.keys(loadConfig({ env: {} })).concat('cloud');

/**
 * The example's text for one top-level key, written out or commented out: from its `key:` line
 * (`# key:` when commented) to the next top-level key's.
 */
function sectionText(text: string, key: string): string {
  const starts = [...text.matchAll(new RegExp(`^(?:# ?)?(${TOP_LEVEL.join('|')}):`, 'gm'))];
  const at = starts.findIndex((m) => m[1] === key);
  if (at < 0) return '';
  return text.slice(starts[at]!.index, starts[at + 1]?.index ?? text.length);
}

/** A key path is documented when its keys appear as `key:` in that order within its section. */
function documented(text: string, path: readonly string[]): boolean {
  const [top, ...rest] = path;
  const section = sectionText(text, top!);
  let from = 0;
  for (const key of rest.filter((k) => k !== '*')) {
    const found = new RegExp(`(?:^|[\\s{,#-])${key}:`, 'm').exec(section.slice(from));
    if (!found) return false;
    from += found.index + found[0].length;
  }
  return section !== '';
}

describe('example configurations', () => {
  it.each(exampleConfigs())('%s loads through the config loader', (_name, file) => {
    expect(() => loadConfig({ file, env: {} })).not.toThrow();
  });

  it('config/outpost.example.yaml holds exactly the embedded defaults (both roles on)', () => {
    const example = loadConfig({ file: EXAMPLE, env: {} });
    expect(example).toEqual(loadConfig({ env: {} }));
    expect(example.roles).toEqual(['gateway', 'connector']);
  });

  it('config/outpost.example.yaml documents every key of the schema', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const keys = schemaKeys(configSchema);
    expect(keys.length).toBeGreaterThan(150);
    const missing = keys.filter((path) => !documented(text, path)).map((path) => path.join('.'));
    expect([...new Set(missing)]).toEqual([]);
  });
});
