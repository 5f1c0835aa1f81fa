import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/errors.js';
import { ensureDataDir } from './data-dir.js';

describe('ensureDataDir', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-datadir-'));

  it.each([
    ['missing nested', join(root, 'a', 'b')],
    ['existing', root],
  ])('accepts a %s directory', (_name, dir) => {
    ensureDataDir(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('creates it private (0700)', () => {
    const dir = join(root, 'private');
    ensureDataDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('reports an impossible path as a config error', () => {
    expect(() => ensureDataDir('/dev/null/data')).toThrow(
      expect.objectContaining({ code: ErrorCodes.config }),
    );
  });
});
