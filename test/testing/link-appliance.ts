import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { cliPath, freePort } from './appliance.js';
import type { RunningCloud } from './cloud.js';

const execFileAsync = promisify(execFile);

/** The static SCEP challenge every linked appliance here accepts. */
export const STATIC_CHALLENGE = 'link-e2e-static-challenge';

export interface LinkedAppliance {
  pid: number;
  adminUrl: string;
  scepUrl: string;
  logs(): string;
  /** Resolves once the output contains `text`, counting from `from` (an offset into logs()). */
  waitForLog(text: string, options?: { timeoutMs?: number; from?: number }): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no closer runs, the journal is left as the crash leaves it. */
  kill(): Promise<void>;
}

/** `outpost enroll` through the real CLI (into `site` if given); returns its stdout (JSON). */
export async function enrollWithCli(
  cloud: RunningCloud,
  dataDir: string,
  extraArgs: string[] = [],
  site?: string,
): Promise<{ applianceId: string; roles: string[]; certificateNotAfter: string }> {
  const created = await cloud.admin('POST', '/v1/admin/enrollment-tokens', site ? { site } : {});
  if (created.status !== 201) throw new Error(`token: ${created.status}`);
  const caFile = join(cloud.dataDir, 'ca.pem');
  const { stdout } = await execFileAsync(process.execPath, [
    cliPath,
    'enroll',
    '--cloud',
    cloud.url,
    '--token',
    created.body.token,
    '--cloud-ca',
    caFile,
    '--role',
    'connector',
    '--data-dir',
    dataDir,
    '--json',
    ...extraArgs,
  ]);
  return JSON.parse(stdout);
}

/**
 * `outpost run` (connector role, one SCEP process) over an enrolled data directory. `cloud` is
 * merged into the config as given; without it the config has no cloud section at all.
 */
export async function startLinkedAppliance(
  dataDir: string,
  cloud?: Record<string, unknown>,
): Promise<LinkedAppliance> {
  const adminPort = await freePort();
  const scepPort = await freePort();
  const configFile = join(dataDir, 'outpost.yaml');
  writeFileSync(
    configFile,
    stringify({
      dataDir,
      roles: ['connector'],
      admin: { listen: `127.0.0.1:${adminPort}` },
      connector: {
        scep: { listen: `127.0.0.1:${scepPort}`, workers: 1, challenge: { static: STATIC_CHALLENGE } },
      },
      ...(cloud ? { cloud } : {}),
    }),
  );
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const appliance: LinkedAppliance = {
    pid: child.pid!,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    scepUrl: `http://127.0.0.1:${scepPort}/scep`,
    logs: () => output,
    waitForLog: async (text, o = {}) => {
      const deadline = Date.now() + (o.timeoutMs ?? 30_000);
      while (!output.slice(o.from ?? 0).includes(text)) {
        if (child.exitCode !== null) throw new Error(`appliance exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`no "${text}" in the appliance log:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  await appliance.waitForLog('outpost running');
  return appliance;
}

/** The appliance's journal rows, read from the SQLite file (read-only, beside a running appliance). */
export function journalRows(
  dataDir: string,
): Array<{ id: string; kind: string; state: string; attempts: number }> {
  const db = new Database(join(dataDir, 'link', 'journal.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT id, kind, state, attempts FROM jobs ORDER BY received_at, rowid')
      .all() as Array<{
      id: string;
      kind: string;
      state: string;
      attempts: number;
    }>;
  } finally {
    db.close();
  }
}

/** Polls `probe` until it returns a value other than undefined. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for the cloud to see the appliance connected (or disconnected). */
export function connected(cloud: RunningCloud, applianceId: string, want = true): Promise<true> {
  return until(`appliance ${want ? 'connected' : 'disconnected'}`, async () => {
    const res = await cloud.admin('GET', `/v1/admin/appliances/${applianceId}`).catch(() => undefined);
    return res?.status === 200 && res.body.connected === want ? true : undefined;
  });
}

// biome-ignore lint/suspicious/noExplicitAny: JSON job views read by the tests
export function finishedJob(cloud: RunningCloud, jobId: string, timeoutMs = 60_000): Promise<any> {
  return until(
    `job ${jobId} finished`,
    async () => {
      const res = await cloud.admin('GET', `/v1/admin/jobs/${jobId}`).catch(() => undefined);
      return res?.status === 200 && (res.body.status === 'done' || res.body.status === 'failed')
        ? res.body
        : undefined;
    },
    timeoutMs,
  );
}

/** The pid of the `outpost cloud` process serving `dataDir` (to freeze it with SIGSTOP). */
export function cloudPid(dataDir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('cloud') && args.includes(dataDir)) return Number(entry);
    } catch {
      // the process went away
    }
  }
  throw new Error(`no cloud process for ${dataDir}`);
}
