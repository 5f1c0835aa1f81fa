import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.js';

const EXAMPLE = fileURLToPath(new URL('../../config/outpost.example.yaml', import.meta.url));

function keyNames(node: unknown): string[] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [];
  return Object.entries(node).flatMap(([key, child]) => [key, ...keyNames(child)]);
}

describe('config/outpost.example.yaml', () => {
  it('is a valid configuration', () => {
    const config = loadConfig({ file: EXAMPLE, env: {} });
    expect(config.connector.profiles.mail?.approval).toBe('manual');
    expect(config.roles).toEqual(['connector']);
  });

  // The example is the connector's reference documentation: a new key must be explained there.
  it('mentions every connector key', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const missing = keyNames(loadConfig({ env: {} }).connector).filter((key) => !text.includes(`${key}:`));
    expect(missing).toEqual([]);
  });
});
