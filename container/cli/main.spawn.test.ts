import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Runs the built CLI as users do. `npm test` builds first; a bare `vitest run` without a build skips.
const MAIN = fileURLToPath(new URL('../../dist/container/cli/main.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../config/outpost.example.yaml', import.meta.url));
const built = existsSync(MAIN);
const cwd = mkdtempSync(join(tmpdir(), 'outpost-cli-'));

/** A clean environment: no OUTPOST_* settings leak in from the developer's shell. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OUTPOST')));
  return { ...env, ...extra };
}

function outpost(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    cwd,
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe.skipIf(!built)('outpost (built CLI, spawned)', () => {
  it.each([
    [[], 'Usage: outpost [options] [command]'],
    [['run'], 'Usage: outpost run'],
    [['config', 'check'], 'Usage: outpost config check'],
    [['ca'], 'Usage: outpost ca'],
    [['ca', 'init'], 'Usage: outpost ca init'],
    [['ca', 'import'], 'Usage: outpost ca import'],
    [['ca', 'show'], 'Usage: outpost ca show'],
    [['scep', 'challenge'], 'Usage: outpost scep challenge'],
    [['certs', 'list'], 'Usage: outpost certs list'],
    [['certs', 'revoke'], 'Usage: outpost certs revoke'],
    [['certs', 'pending'], 'Usage: outpost certs pending'],
    [['certs', 'approve'], 'Usage: outpost certs approve'],
    [['certs', 'reject'], 'Usage: outpost certs reject'],
  ])('%j --help', (verb, usage) => {
    const result = outpost([...verb, '--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain(usage);
  });

  it('--version prints the package version', () => {
    expect(outpost(['--version'])).toMatchObject({ code: 0, out: '0.1.0\n' });
  });

  it.each([
    ['embedded defaults', [], {}, /^dataDir: \.\/data$/m],
    ['the example file', ['--config', EXAMPLE], {}, /^ {2}- connector$/m],
    [
      'an environment override',
      [],
      { OUTPOST__admin__listen: '0.0.0.0:9090' },
      /^ {2}listen: 0\.0\.0\.0:9090$/m,
    ],
    [
      '--data-dir',
      ['--data-dir', '/srv/outpost'],
      { OUTPOST_DATA_DIR: '/env' },
      /^dataDir: \/srv\/outpost$/m,
    ],
  ])('config check with %s → exit 0', (_name, args, env, expected) => {
    const result = outpost([...args, 'config', 'check'], env);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(expected);
  });

  it.each([
    [
      'a bad value',
      'connector:\n  ca: { type: foo }\n',
      "connector.ca.type: got 'foo', expected one of builtin, scep-upstream, cfssl",
    ],
    ['an unknown key', 'gateway:\n  listne: 1\n', 'unknown key gateway.listne'],
    ['broken YAML', 'log: [\n', 'bad.yaml:'],
  ])('config check with %s → exit 2', (_name, text, line) => {
    writeFileSync(join(cwd, 'bad.yaml'), text);
    const result = outpost(['--config', 'bad.yaml', 'config', 'check']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^error: invalid configuration \(OUTPOST_ERR_CONFIG\)\n/);
    expect(result.err).toContain(line);
    expect(result.out).toBe('');
  });

  it.each([
    [['--config', 'missing.yaml', 'config', 'check'], 2],
    [['certs', 'revoke', 'not-hex'], 2],
    [['nonsense'], 2],
    [['config', 'check', '--json'], 0],
  ])('%j → exit %d', (args, code) => {
    expect(outpost(args).code).toBe(code);
  });

  describe('run', () => {
    let child: ChildProcess | undefined;
    afterAll(() => {
      if (child?.exitCode === null) child.kill('SIGKILL');
    });

    it('serves /healthz and exits 0 on SIGTERM', async () => {
      child = spawn(process.execPath, [MAIN, 'run'], {
        cwd,
        env: cleanEnv({
          OUTPOST_DATA_DIR: join(cwd, 'data'),
          OUTPOST__roles: '[connector]',
          OUTPOST__admin__listen: '127.0.0.1:0',
          OUTPOST__connector__scep__listen: '127.0.0.1:0',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let logs = '';
      child.stdout?.on('data', (chunk) => {
        logs += String(chunk);
      });
      child.stderr?.on('data', (chunk) => {
        logs += String(chunk);
      });
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no admin server within 15 s:\n${logs}`)), 15_000);
        child?.stdout?.on('data', () => {
          const found = /"listen":"127\.0\.0\.1:(\d+)"[^\n]*"msg":"admin server listening"/.exec(logs)?.[1];
          if (found) {
            clearTimeout(timer);
            resolve(Number(found));
          }
        });
        child?.on('exit', (code) => reject(new Error(`exited ${code} before listening:\n${logs}`)));
      });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok' });
      const exitCode = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exitCode).toBe(0);
    });
  });
});
