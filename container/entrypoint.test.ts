import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { type DirectoryState, type FsProbe, planEntrypoint } from './entrypoint.js';
import { firstForeignEntry, realFsProbe } from './entrypoint-probe.js';

function probe(state: Partial<DirectoryState> = {}, uid: number | undefined = 10001) {
  const inspectDataDir = vi.fn(() => ({ exists: true, writable: true, ...state }));
  return { fs: { inspectDataDir, uid: () => uid } satisfies FsProbe, inspectDataDir };
}

const CONTAINER = { OUTPOST_IN_CONTAINER: '1' };

describe('planEntrypoint: which command runs', () => {
  it.each([
    [[], ['run']],
    [['run'], ['run']],
    [
      ['--config', '/etc/outpost.yaml'],
      ['run', '--config', '/etc/outpost.yaml'],
    ],
    [
      ['config', 'check'],
      ['config', 'check'],
    ],
    [
      ['--config', '/etc/o.yaml', 'config', 'check'],
      ['--config', '/etc/o.yaml', 'config', 'check'],
    ],
    [
      ['scep', 'challenge', '--ttl', '60'],
      ['scep', 'challenge', '--ttl', '60'],
    ],
    [['--help'], ['--help']],
    [['--version'], ['--version']],
    [
      ['certs', 'list', '--json'],
      ['certs', 'list', '--json'],
    ],
  ])('%j → outpost %j', (argv, expected) => {
    const plan = planEntrypoint(CONTAINER, argv, probe().fs);
    expect(plan).toMatchObject({ kind: 'run-cli', argv: expected });
  });
});

describe('planEntrypoint: data directory', () => {
  it.each([
    ['the volume by default', {}, [], '/var/lib/outpost'],
    ['OUTPOST_DATA_DIR', { OUTPOST_DATA_DIR: '/data' }, [], '/data'],
    ['--data-dir', { OUTPOST_DATA_DIR: '/data' }, ['--data-dir', '/cli', 'run'], '/cli'],
    ['--data-dir=', {}, ['run', '--data-dir=/cli2'], '/cli2'],
    ['-d', {}, ['-d', '/cli3', 'certs', 'list'], '/cli3'],
  ])('checks %s', (_name, env, argv, dir) => {
    const { fs, inspectDataDir } = probe();
    planEntrypoint({ ...CONTAINER, ...env }, argv, fs);
    expect(inspectDataDir).toHaveBeenCalledWith(dir);
  });

  it.each([[['config', 'check']], [['--help']], [['ca', 'init', '--help']], [['--version']]])(
    'does not touch it for %j',
    (argv) => {
      const { fs, inspectDataDir } = probe({ writable: false });
      expect(planEntrypoint(CONTAINER, argv, fs).kind).toBe('run-cli');
      expect(inspectDataDir).not.toHaveBeenCalled();
    },
  );

  it('makes the CLI default to the container data directory', () => {
    expect(planEntrypoint({}, [], probe().fs)).toEqual({
      kind: 'run-cli',
      argv: ['run'],
      env: { OUTPOST_IN_CONTAINER: '1' },
    });
    expect(planEntrypoint(CONTAINER, [], probe().fs)).toEqual({ kind: 'run-cli', argv: ['run'], env: {} });
  });

  it.each([
    [
      'root-owned volume',
      { writable: false, ownerUid: 0, error: 'EACCES' },
      10001,
      [
        /not writable by uid 10001 \(owned by uid 0\): EACCES/,
        /--entrypoint chown outpost -R 10001:10001 \/var\/lib\/outpost/,
        /sudo chown -R 10001:10001/,
      ],
    ],
    ['read-only mount', { writable: false, ownerUid: 10001, error: 'EROFS' }, 10001, [/EROFS/]],
    [
      // A root gateway on the shared volume created ca/ first: the directory is writable, ca.pem is not.
      'root-owned file inside a writable volume',
      { writable: false, ownerUid: 0, blockedPath: 'ca/ca.pem', error: 'EACCES' },
      10001,
      [
        /\/var\/lib\/outpost\/ca\/ca.pem is not accessible to uid 10001 \(owned by uid 0\)/,
        /chown outpost -R 10001:10001/,
      ],
    ],
    [
      'other user',
      { writable: false, exists: false, error: 'EACCES' },
      1234,
      [/uid 1234/, /outpost -R 1234:1234 /],
    ],
  ])('fails with advice on a %s', (_name, state, uid, messages) => {
    const plan = planEntrypoint(CONTAINER, [], probe(state, uid).fs);
    expect(plan.kind).toBe('fail');
    if (plan.kind !== 'fail') return;
    expect(plan.exitCode).toBe(1);
    for (const message of messages) expect(plan.message).toMatch(message);
  });
});

describe('realFsProbe', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-entry-'));
  it('creates a missing directory and finds it writable', () => {
    expect(realFsProbe.inspectDataDir(join(root, 'a', 'b'))).toEqual({ exists: true, writable: true });
  });

  it.skipIf(process.getuid?.() === 0)(
    'reports a directory it cannot write (skipped as root: root writes anywhere)',
    () => {
      const locked = join(root, 'locked');
      mkdirSync(locked, { mode: 0o500 });
      expect(realFsProbe.inspectDataDir(locked)).toMatchObject({
        exists: true,
        writable: false,
        error: 'EACCES',
      });
    },
  );

  it('finds the first entry another uid owns', async () => {
    const dir = join(root, 'foreign');
    mkdirSync(join(dir, 'ca'), { recursive: true });
    writeFileSync(join(dir, 'ca', 'ca.pem'), '');
    const owner = process.getuid?.() ?? 0;
    expect(firstForeignEntry(dir, 4242)).toEqual({ path: 'ca', ownerUid: owner });
    expect(firstForeignEntry(dir, owner)).toBeUndefined();
    expect(firstForeignEntry(dir, 0)).toBeUndefined(); // root opens everything
    const socketDir = join(root, 'sockets');
    mkdirSync(socketDir);
    const server = createServer().listen(join(socketDir, 'admin-gateway.sock'));
    await once(server, 'listening');
    expect(firstForeignEntry(socketDir, 4242)).toBeUndefined(); // another process's socket: never opened
    server.close();
    expect(firstForeignEntry(dir, 4242, 0)).toBeUndefined(); // bounded
  });

  it('reports a path under a file', () => {
    expect(realFsProbe.inspectDataDir('/dev/null/x')).toMatchObject({ writable: false, error: 'ENOTDIR' });
  });
});
