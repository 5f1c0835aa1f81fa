import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './appliance.js';

/** One server behind a frontend. */
export interface HaproxyServer {
  name: string;
  /** `host:port` the traffic goes to. */
  address: string;
  /** HTTP health check: GET `path` on `port` of the server's host (the appliance's probes port). */
  check?: { port: number; path: string };
}

export interface HaproxyFrontend {
  name: string;
  mode: 'tcp' | 'http';
  /** `host:port` HAProxy listens on. */
  bind: string;
  servers: HaproxyServer[];
  /** `send-proxy-v2` on every server line: the server learns the client's address (gateways). */
  sendProxyV2?: boolean;
  balance?: 'roundrobin' | 'leastconn' | 'source';
  /**
   * `option redispatch 1` with `retries 2`: a connection a server refuses (stopped, killed,
   * draining with --migrate) is retried on another server at once, as the README's site does.
   */
  redispatch?: boolean;
}

export interface RunningHaproxy {
  readonly configFile: string;
  /** From `show servers state`: server name → operational state (0 stopped, 2 running). */
  serverStates(): Promise<Map<string, number>>;
  /** Waits until every named server's health check says it is up (or down). */
  waitForServers(names: readonly string[], up: boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface HaproxyOptions {
  frontends: HaproxyFrontend[];
  /** Runs HAProxy inside this network namespace (`ip netns exec`). */
  namespace?: string;
  /** Milliseconds between health checks (`inter`); short in tests so a drain shows quickly. */
  checkIntervalMs?: number;
  /** HAProxy needs about two descriptors per connection and refuses to start above its open-files limit. */
  maxconn?: number;
  /** Runs it under `prlimit --nofile=N:N` (HAProxy raises its soft limit only up to the hard one). */
  nofile?: number;
}

/**
 * HAProxy 2.6 (Debian `haproxy`) in the foreground (`-db`), configured as the README shows for a
 * site: TCP mode with `send-proxy-v2` towards gateways, HTTP mode towards SCEP, health checks on
 * the appliances' probes port. A stats socket at admin level lets tests read server states.
 */
export async function startHaproxy(options: HaproxyOptions): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-haproxy-'));
  const configFile = join(dir, 'haproxy.cfg');
  const statsSocket = join(dir, 'admin.sock');
  writeFileSync(configFile, haproxyConfig(options, statsSocket));
  const limit = options.nofile ? ['prlimit', `--nofile=${options.nofile}:${options.nofile}`] : [];
  const command = [...limit, 'haproxy', '-db', '-f', configFile];
  const argv = options.namespace ? ['ip', 'netns', 'exec', options.namespace, ...command] : command;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await waitForSocket(statsSocket, child, () => log);
  const serverStates = () => readServerStates(statsSocket);
  return {
    configFile,
    serverStates,
    waitForServers: (names, up, timeoutMs = 15_000) => waitForServers(serverStates, names, up, timeoutMs),
    stop: () => stop(child, dir),
  };
}

/** The configuration text; exported so the README's example can be checked against it. */
export function haproxyConfig(options: HaproxyOptions, statsSocket: string): string {
  const inter = options.checkIntervalMs ?? 500;
  const lines = [
    'global',
    `  stats socket ${statsSocket} mode 600 level admin`,
    `  maxconn ${options.maxconn ?? 4000}`,
    'defaults',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 2s',
  ];
  for (const f of options.frontends) lines.push(...frontendLines(f, inter));
  return `${lines.join('\n')}\n`;
}

function frontendLines(f: HaproxyFrontend, inter: number): string[] {
  const lines = [
    `frontend ${f.name}`,
    `  mode ${f.mode}`,
    `  bind ${f.bind}`,
    `  default_backend ${f.name}_servers`,
    `backend ${f.name}_servers`,
    `  mode ${f.mode}`,
    `  balance ${f.balance ?? 'roundrobin'}`,
    ...(f.redispatch ? ['  option redispatch 1', '  retries 2'] : []),
  ];
  const checkPath = f.servers.find((s) => s.check)?.check?.path;
  if (checkPath)
    lines.push(
      '  option httpchk',
      `  http-check send meth GET uri ${checkPath}`,
      '  http-check expect status 200',
    );
  for (const s of f.servers) {
    const parts = [`  server ${s.name} ${s.address}`];
    if (f.sendProxyV2) parts.push('send-proxy-v2');
    if (s.check) parts.push(`check port ${s.check.port} inter ${inter} fall 2 rise 2`);
    lines.push(parts.join(' '));
  }
  return lines;
}

function statsCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString();
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(out));
    socket.end(`${command}\n`);
  });
}

/** `show servers state`: a version line, a "#" header, then "be_id be_name srv_id srv_name srv_addr srv_op_state …". */
async function readServerStates(socketPath: string): Promise<Map<string, number>> {
  const text = await statsCommand(socketPath, 'show servers state');
  const states = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const fields = line.split(' ');
    if (fields.length > 5) states.set(fields[3]!, Number(fields[5]));
  }
  return states;
}

async function waitForServers(
  states: () => Promise<Map<string, number>>,
  names: readonly string[],
  up: boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, number>();
  while (Date.now() < deadline) {
    last = await states();
    if (names.every((n) => (last.get(n) === 2) === up)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `HAProxy servers ${names.join(', ')} not ${up ? 'up' : 'down'}: ${JSON.stringify([...last])}`,
  );
}

async function waitForSocket(socketPath: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited:\n${log()}`);
    try {
      await statsCommand(socketPath, 'show info');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`haproxy did not start:\n${log()}`);
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * HAProxy in front of a site's connectors as deploy/haproxy/haproxy.cfg has it: HTTP mode, each
 * request balanced round-robin, `option redispatch`, health checks on each node's `/readyz`
 * (probes port). Resolves once every node is up; `url` is the site's SCEP URL.
 */
export async function startScepBalancer(
  nodes: ReadonlyArray<{ name: string; baseUrl: string; adminUrl: string }>,
  options: { checkIntervalMs?: number } = {},
): Promise<{ proxy: RunningHaproxy; url: string }> {
  const port = await freePort();
  const proxy = await startHaproxy({
    ...options,
    frontends: [
      {
        name: 'scep',
        mode: 'http',
        bind: `127.0.0.1:${port}`,
        balance: 'roundrobin',
        redispatch: true,
        servers: nodes.map((node) => ({
          name: node.name,
          address: new URL(node.baseUrl).host,
          check: { port: Number(new URL(node.adminUrl).port), path: '/readyz' },
        })),
      },
    ],
  });
  try {
    await proxy.waitForServers(
      nodes.map((n) => n.name),
      true,
    );
  } catch (e) {
    await proxy.stop();
    throw e;
  }
  return { proxy, url: `http://127.0.0.1:${port}/scep` };
}
