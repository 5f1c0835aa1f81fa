import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Pieces the session benchmarks share (idle-sessions.ts, site-failover.ts). */

const exec = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The product's CLI (`outpost run` for the gateways) and the idle CSTP client, as built. */
export const outpostCli = join(root, 'dist/container/cli/main.js');
export const idleClientJs = join(root, 'dist-tools/bench/tunnel/cstp-idle-client.js');

/**
 * The file-descriptor limit every process gets: 1048576, or, without CAP_SYS_RESOURCE (some
 * containers), the hard limit already in force, which then caps the sessions one process can hold.
 */
export async function fdLimit(): Promise<number> {
  const wanted = 1_048_576;
  const raised = await exec('prlimit', [`--nofile=${wanted}:${wanted}`, 'true']).then(
    () => true,
    () => false,
  );
  if (raised) return wanted;
  const { stdout } = await exec('bash', ['-c', 'ulimit -Hn']);
  const hard = stdout.trim() === 'unlimited' ? wanted : Number(stdout.trim());
  if (!Number.isInteger(hard) || hard < 1024) throw new Error(`unusable open-files hard limit: ${stdout}`);
  return hard;
}

/** Descriptors a process needs besides its sessions (listeners, TUN, database, stdio, epoll, …). */
export const fdReserve = 200;

/** Lines of JSON from a client's stdout, handed to whoever waits for the next event. */
export class ClientEvents {
  private buffered = '';
  private readonly waiters: Array<{ event: string; resolve: (v: Record<string, unknown>) => void }> = [];
  exited = false;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buffered += d;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        const i = this.waiters.findIndex((w) => w.event === parsed.event);
        if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(parsed);
      }
    });
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
    child.once('exit', () => {
      this.exited = true;
    });
  }

  next(event: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolveEvent, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`client: no ${event} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onExit = () => {
        clearTimeout(timer);
        reject(new Error(`client exited before ${event}`));
      };
      this.child.once('exit', onExit);
      this.waiters.push({
        event,
        resolve: (v) => {
          clearTimeout(timer);
          this.child.off('exit', onExit);
          resolveEvent(v);
        },
      });
    });
  }
}

/** Part i of `total` split into k near-equal parts (the first total % k parts one larger). */
export function share(total: number, k: number, i: number): number {
  return Math.floor(total / k) + (i < total % k ? 1 : 0);
}

/**
 * CPU time a process has used, in milliseconds: its own (utime + stime) and that of the children
 * it waited for (cutime + cstime: the `ip` and `nft` commands it runs). /proc/<pid>/stat fields
 * 14-17, counted after the command name, in clock ticks (100 per second on Linux).
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks * 10;
}

/**
 * The network namespace a session benchmark runs in, and the processes it starts there (each
 * under `prlimit` with the open-files limit the bench settled on). `destroy` kills whatever still
 * runs inside, deletes the given leftover links (TUNs), then the namespace.
 */
export class BenchNamespace {
  readonly children: ChildProcess[] = [];
  private created = false;

  constructor(
    readonly ns: string,
    private readonly limits: { remainingMs: () => number; nofile: () => number },
  ) {}

  inNs(cmd: string, args: string[], timeoutMs = 30_000) {
    return exec('ip', ['netns', 'exec', this.ns, cmd, ...args], {
      timeout: Math.min(timeoutMs, this.limits.remainingMs()),
      maxBuffer: 64 << 20,
    });
  }

  spawnInNs(cmd: string, args: string[]): ChildProcess {
    const nofile = this.limits.nofile();
    const child = spawn(
      'ip',
      ['netns', 'exec', this.ns, 'prlimit', `--nofile=${nofile}:${nofile}`, cmd, ...args],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    this.children.push(child);
    return child;
  }

  /** The namespace, loopback up, forwarding on, room for 64k client sockets. */
  async create(): Promise<void> {
    await exec('ip', ['netns', 'add', this.ns]);
    this.created = true;
    await exec('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    await this.inNs('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // 64k client sockets: widen the ephemeral range (each client also spreads over 8 addresses).
    await this.inNs('sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000']);
    await this.inNs('sysctl', ['-qw', 'net.core.somaxconn=4096']);
  }

  /** SIGTERM to every child, SIGKILL to those still there after `graceMs`. */
  async stopChildren(graceMs: number): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGTERM');
    const gone = Date.now() + graceMs;
    while (this.children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < gone)
      await new Promise((r) => setTimeout(r, 200));
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  }

  async destroy(links: readonly string[], log: (m: string) => void): Promise<void> {
    if (!this.created) return;
    const pids = await exec('ip', ['netns', 'pids', this.ns]).then(
      (r) => r.stdout.split(/\s+/).filter(Boolean),
      () => [] as string[],
    );
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const name of links) await exec('ip', ['-n', this.ns, 'link', 'del', name]).catch(() => undefined);
    await exec('ip', ['netns', 'del', this.ns]).catch((e) => log(`cannot delete ${this.ns}: ${e}`));
    this.created = false;
  }
}

/**
 * Runs a session benchmark's main: whatever run is current is cleaned up (namespace, processes)
 * on SIGINT or SIGTERM (exit 130) and when main fails (exit 1).
 */
export function runBench(
  main: () => Promise<void>,
  current: () => { cleanUp(): Promise<void> } | undefined,
  log: (m: string) => void,
): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void (current()?.cleanUp() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  main().catch(async (e) => {
    console.error(e);
    await current()
      ?.cleanUp()
      .catch(() => undefined);
    process.exit(1);
  });
}
