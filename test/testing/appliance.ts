import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);
/** The repository root: this file runs from test/testing (vitest) or dist-tools/test/testing (benchmarks). */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const cliPath = join(repoRoot(), 'dist/container/cli/main.js');

/** A free loopback TCP port (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RunningAppliance {
  /** The appliance process (its workers are its children). */
  pid: number;
  dataDir: string;
  configFile: string;
  scepUrl: string;
  baseUrl: string;
  adminUrl: string;
  logs: () => string;
  /** Sends the appliance process a signal (e.g. SIGHUP to reload its config file). */
  signal(name: NodeJS.Signals): void;
  /** Resolves true once the appliance's output contains `text` (logs are written asynchronously). */
  waitForLog(text: string, timeoutMs?: number): Promise<boolean>;
  /** Runs an `outpost` CLI verb against the same config and data directory. */
  cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

type ConfigTree = { [key: string]: unknown };

function isTree(value: unknown): value is ConfigTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; arrays and scalars from `extra` replace. */
function merge(base: ConfigTree, extra: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isTree(current) && isTree(value) ? merge(current, value) : value;
  }
  return out;
}

/**
 * Starts `outpost run` from the built dist/ as a child process with its own data directory and
 * loopback ports, and waits for /readyz. `config` is merged over the generated configuration.
 */
export async function startAppliance(
  config: ConfigTree = {},
  options: { dataDir?: string } = {},
): Promise<RunningAppliance> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-test-'));
  const scepPort = await freePort();
  const adminPort = await freePort();
  const configFile = join(dataDir, 'outpost.yaml');
  const base: ConfigTree = {
    dataDir,
    roles: ['connector'],
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'info' },
    // auto (one SCEP process per CPU) was the connector's default before issue 13 made it 1: the
    // suites keep running the worker cluster against real clients, as they always did.
    connector: { scep: { listen: `127.0.0.1:${scepPort}`, path: '/scep', workers: 'auto' } },
  };
  writeFileSync(configFile, stringify(merge(base, config)));
  let output = '';
  const child = spawn(process.execPath, [cliPath, 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitReady(adminUrl, child, () => output);
  const cli = async (args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [
        cliPath,
        ...args,
        '--config',
        configFile,
      ]);
      return { stdout, stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; code: number };
      return { stdout: err.stdout, stderr: err.stderr, code: err.code };
    }
  };
  return {
    pid: child.pid!,
    dataDir,
    configFile,
    scepUrl: `http://127.0.0.1:${scepPort}/scep`,
    baseUrl: `http://127.0.0.1:${scepPort}`,
    adminUrl,
    logs: () => output,
    signal: (name: NodeJS.Signals) => void child.kill(name),
    waitForLog: async (text: string, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },
    cli,
    stop: (opts?: { keepData?: boolean }) => stopChild(child, opts?.keepData ? undefined : dataDir),
  };
}

async function waitReady(adminUrl: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`appliance exited with ${child.exitCode}:\n${logs()}`);
    try {
      const res = await fetch(`${adminUrl}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`appliance not ready within 60 s:\n${logs()}`);
}

async function stopChild(child: ChildProcess, dataDir: string | undefined): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
