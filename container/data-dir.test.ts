import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/errors.js';
import { ensureDataDir, handDataDirToOwner, makeDataDirPrivate } from './data-dir.js';

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

describe('makeDataDirPrivate', () => {
  it('narrows files to 0600 and directories to 0700, leaving symbolic links alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-narrow-'));
    mkdirSync(join(root, 'ca'), { mode: 0o755 });
    writeFileSync(join(root, 'ca', 'ca.pem'), 'x', { mode: 0o644 });
    writeFileSync(join(root, 'outpost.db'), 'x', { mode: 0o640 });
    writeFileSync(join(root, 'ok'), 'x', { mode: 0o600 });
    writeFileSync(join(root, 'target'), 'x', { mode: 0o600 });
    chmodSync(join(root, 'target'), 0o644);
    symlinkSync(join(root, 'target'), join(root, 'ca', 'link'));
    chmodSync(root, 0o755);
    expect(makeDataDirPrivate(root)).toBe(5);
    const mode = (p: string) => (lstatSync(join(root, p)).mode & 0o777).toString(8);
    expect(['', 'ca', 'ca/ca.pem', 'outpost.db', 'ok', 'target'].map(mode)).toEqual([
      '700',
      '700',
      '600',
      '600',
      '600',
      '600',
    ]);
    expect(makeDataDirPrivate(root)).toBe(0);
  });
});

describe('handDataDirToOwner', () => {
  const isRoot = process.getuid?.() === 0;

  it.skipIf(!isRoot)('gives root-created entries, at any depth, to the directory owner (root only)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-handover-'));
    mkdirSync(join(dir, 'ca'));
    writeFileSync(join(dir, 'ca', 'ca.pem'), '', { mode: 0o600 });
    writeFileSync(join(dir, 'admin-token'), '', { mode: 0o600 });
    chownSync(dir, 10001, 10001);
    expect(handDataDirToOwner(dir)).toBe(3);
    for (const path of ['ca', 'ca/ca.pem', 'admin-token']) {
      expect(statSync(join(dir, path))).toMatchObject({ uid: 10001, gid: 10001 });
    }
    expect(handDataDirToOwner(dir)).toBe(0); // nothing left to change
  });

  it('leaves a directory root owns alone, and does nothing unless root', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-handover-'));
    writeFileSync(join(dir, 'file'), '');
    expect(handDataDirToOwner(dir)).toBe(0);
  });
});
