import { type ChildProcess, execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { exportJWK, SignJWT } from 'jose';
import { stringify } from 'yaml';
import { applianceNodeFlags } from '../../container/node-flags.js';
import { requireForBench } from '../needs.js';
import {
  BenchNamespace,
  ClientEvents,
  fdLimit,
  fdReserve,
  idleClientJs,
  outpostCli,
  runBench,
  share,
} from './bench-processes.js';

/**
 * `npm run bench:sessions`: how many concurrent idle VPN sessions the gateway holds, and what
 * each costs in memory (the goal: 64,000 sessions at under 20 KiB each).
 *
 * In a network namespace of its own it starts `outpost run` (gateway role only, token auth
 * against a JWKS this bench makes, pool 10.100.0.0/16, long timers, `gateway.workers` tunnel
 * processes), then separate client processes (bench/tunnel/cstp-idle-client.ts, so their memory
 * is their own; one per 15,000 sessions, each from source addresses of its own) open N TLS tunnels
 * with bounded concurrency and hold them. The gateway's resident memory (VmRSS summed over its node
 * processes: the primary and its tunnel workers; and prom-client's heap figure from /metrics) is
 * read before and after, with the session count from `outpost_gateway_sessions`. Needs root.
 * `--sessions 2000,10000` runs each size on a fresh gateway. The last line is exactly:
 *
 *   sessions: held=<n> rss_per_session_kib=<x> target_kib=20
 */
const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '64000' },
    concurrency: { type: 'string', default: '64' },
    /**
     * Seconds to wait after the last session is up before measuring. Opening tens of thousands
     * of sessions leaves their handshake garbage (TLSSockets, HTTP parsers) in the heap until
     * V8's memory reducer collects it once the process is idle (about half a minute here), so a
     * short settle measures garbage along with what the sessions hold.
     */
    settle: { type: 'string', default: '30' },
    /**
     * Gateway tunnel processes (`gateway.workers`, 1..64), or `auto`: 1 when the open-files limit
     * lets one process hold N sessions, else enough workers (a power of two, at most 8) for about
     * 16,000 sessions each.
     */
    workers: { type: 'string', default: 'auto' },
    /** The whole run (all sizes) is abandoned after this many seconds. */
    'timeout-s': { type: 'string', default: '2400' },
  },
});

const exec = promisify(execFile);
const targetKib = 20;
/** Set by main(): 1048576 where allowed, else the hard limit this process may raise to. */
let nofile = 1_048_576;
const listenPort = 8443;
const adminPort = 9090;
const tunName = 'oidle0';
/** Worker processes are told apart from `ip`/`prlimit`/`curl` by their executable. */
const nodeExe = realpathSync(process.execPath);

const sizes = values.sessions!.split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65_000) throw new Error(`--sessions: ${s} is not in 1..65000`);
  return n;
});
const concurrency = Number(values.concurrency);
const workersOption = parseWorkers(values.workers!);
const settleMs = Number(values.settle) * 1000;
const runDeadline = Date.now() + Number(values['timeout-s']) * 1000;
if (!(concurrency >= 1 && concurrency <= 4096)) throw new Error('--concurrency must be in 1..4096');

/** `auto` or a fixed worker count in the schema's range. */
function parseWorkers(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`--workers: ${text} is neither auto nor in 1..64`);
  return n;
}

/** One gateway node process at one moment: its resident memory and the sockets it holds. */
interface ProcessSample {
  pid: number;
  role: 'primary' | 'worker';
  rss: number;
  /** Open socket descriptors; across a run the increase is about the tunnels it carries. */
  sockets: number;
}

interface Row {
  /** Sessions asked for; n is less when the open-files limit caps it. */
  asked?: number;
  n: number;
  workers: number;
  clients: number;
  held: number;
  gaugeSessions: number;
  clientHeld: number;
  failed: number;
  lost: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  establishMs: number;
  processesBefore: ProcessSample[];
  processesAfter: ProcessSample[];
  /** Sessions each client process held at the report. */
  clientsHeld: number[];
}

const log = (m: string) => process.stderr.write(`idle-sessions: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function remainingMs(): number {
  const left = runDeadline - Date.now();
  if (left <= 0) throw new Error('run timeout (--timeout-s) reached');
  return left;
}

/** Everything one run creates, so that cleanup can undo it whatever happened. */
class Run extends BenchNamespace {
  readonly work = mkdtempSync(join(tmpdir(), 'outpost-idle-'));
  readonly serverLog = join(this.work, 'outpost.log');

  constructor(
    readonly n: number,
    readonly workers: number,
  ) {
    super(`opidle-${randomBytes(3).toString('hex')}`, { remainingMs, nofile: () => nofile });
  }

  setUp(): Promise<void> {
    return this.create();
  }

  async cleanUp(): Promise<void> {
    await this.stopChildren(10_000);
    await this.destroy(tunNames(this.workers), log);
    this.keepServerLog();
    rmSync(this.work, { recursive: true, force: true });
  }

  /** The gateway's log outlives the work directory (one file per size, overwritten), for post-mortems. */
  private keepServerLog(): void {
    const kept = join(tmpdir(), `outpost-idle-sessions-${this.n}.log`);
    try {
      copyFileSync(this.serverLog, kept);
      log(`gateway log kept at ${kept}`);
    } catch {
      // the gateway never started
    }
  }
}

/** TUN devices a run may leave: the primary's, and with workers one per worker (`<name>w<i>`). */
function tunNames(workers: number): string[] {
  if (workers === 1) return [tunName];
  return [tunName, ...Array.from({ length: workers }, (_, i) => `${tunName}w${i}`)];
}

let current: Run | undefined;

async function signedToken(dir: string): Promise<{ jwksFile: string; tokenFile: string }> {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [{ ...(await exportJWK(key.publicKey)), kid: 'bench-1', alg: 'ES256' }] }),
  );
  const token = await new SignJWT({ upn: 'bench@corp.test' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
    .setIssuer('https://idp.bench')
    .setAudience('outpost-gateway')
    .setIssuedAt()
    .setExpirationTime('4h')
    .sign(key.privateKey);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  return { jwksFile, tokenFile };
}

function writeConfig(run: Run, jwksFile: string): string {
  const dataDir = join(run.work, 'data');
  const file = join(run.work, 'outpost.yaml');
  writeFileSync(
    file,
    stringify({
      dataDir,
      roles: ['gateway'],
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: 'warn' },
      gateway: {
        listen: `127.0.0.1:${listenPort}`,
        pool: { ipv4: '10.100.0.0/16' },
        tun: { name: tunName, mtu: 1472 },
        // Only written when > 1: one process is the default, and the config stays what it was.
        ...(run.workers > 1 ? { workers: run.workers } : {}),
        auth: {
          methods: ['token'],
          token: {
            jwks: jwksFile,
            issuer: 'https://idp.bench',
            audience: 'outpost-gateway',
            usernameClaim: 'upn',
          },
        },
        timers: { dpd: 3600, keepalive: 3600, idle: 7200, session: 86400, cookie: 3600 },
        limits: { maxClients: 70_000, maxSessionsPerUser: 70_000 },
      },
    }),
  );
  return file;
}

async function nsPids(run: Run): Promise<number[]> {
  const { stdout } = await exec('ip', ['netns', 'pids', run.ns]);
  return stdout.split(/\s+/).filter(Boolean).map(Number);
}

/** The gateway's primary node process (not `ip`/`prlimit`, which exec into it anyway). */
async function gatewayPid(run: Run, configFile: string): Promise<number> {
  for (const pid of await nsPids(run)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(outpostCli) && cmd.includes('run') && cmd.includes(configFile)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no gateway node process in ${run.ns}`);
}

/** Field 4 of /proc/<pid>/stat, counted after the command name (which may hold spaces and parentheses). */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // exited meanwhile
  }
}

function isNode(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === nodeExe;
  } catch {
    return false;
  }
}

/** The gateway's tunnel workers: node processes in the namespace whose parent is the primary. */
async function workerPids(run: Run, primary: number): Promise<number[]> {
  const pids = await nsPids(run);
  return pids
    .filter((pid) => pid !== primary && parentPid(pid) === primary && isNode(pid))
    .sort((a, b) => a - b);
}

/**
 * Readiness may come before every worker is forked, and a "before" without a worker would count
 * its whole footprint as session memory: wait for them, a bounded while, and say so if short.
 */
async function awaitWorkers(run: Run, primary: number): Promise<void> {
  let found = 0;
  for (let attempt = 0; attempt < 100 && run.workers > 1; attempt++) {
    found = (await workerPids(run, primary)).length;
    if (found >= run.workers) return;
    await sleep(200);
  }
  if (run.workers > 1) log(`N=${run.n}: ${found} of ${run.workers} gateway workers running; measuring those`);
}

function vmRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

function socketCount(pid: number): number {
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed meanwhile
    }
  }
  return sockets;
}

function sampleProcess(pid: number, role: ProcessSample['role']): ProcessSample {
  return { pid, role, rss: vmRssBytes(pid), sockets: socketCount(pid) };
}

/** The primary (its loss is the run's failure) and every worker running at this moment. */
async function sampleGateway(run: Run, primary: number): Promise<ProcessSample[]> {
  const samples = [sampleProcess(primary, 'primary')];
  for (const pid of await workerPids(run, primary)) {
    try {
      samples.push(sampleProcess(pid, 'worker'));
    } catch {
      log(`N=${run.n}: gateway worker ${pid} exited while being measured`);
    }
  }
  return samples;
}

const totalRss = (samples: ProcessSample[]) => samples.reduce((sum, s) => sum + s.rss, 0);

async function metrics(run: Run): Promise<Map<string, number>> {
  const { stdout } = await run.inNs(
    'curl',
    ['-sf', '--max-time', '30', `http://127.0.0.1:${adminPort}/metrics`],
    40_000,
  );
  const out = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && !out.has(m[1]!)) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** What one client process is asked to do. */
interface ClientPlan {
  sessions: number;
  concurrency: number;
  /** First of its 8 source addresses: 127.0.<k+1>.1, so no two clients share a source port space. */
  sourceBase: string;
}

/**
 * One client process per 15,000 sessions (fewer when the open-files limit is lower): a process
 * holds one descriptor per session. Concurrency is split so the gateway sees the same total.
 * k stays below 255 (N ≤ 65,000 and at least 824 sessions per client), so each base is valid.
 */
function planClients(n: number): ClientPlan[] {
  const k = Math.ceil(n / Math.min(15_000, nofile - fdReserve));
  return Array.from({ length: k }, (_, i) => ({
    sessions: share(n, k, i),
    concurrency: Math.max(1, share(concurrency, k, i)),
    sourceBase: `127.0.${i + 1}.1`,
  }));
}

function spawnClient(run: Run, plan: ClientPlan, tokenFile: string): ClientEvents {
  const child = run.spawnInNs(process.execPath, [
    idleClientJs,
    '--host',
    '127.0.0.1',
    '--port',
    String(listenPort),
    '--sessions',
    String(plan.sessions),
    '--concurrency',
    String(plan.concurrency),
    '--source-base',
    plan.sourceBase,
    '--ca',
    join(run.work, 'data', 'ca', 'ca.pem'),
    '--token-file',
    tokenFile,
    '--deadline-s',
    String(Math.max(10, Math.floor((remainingMs() - 60_000) / 1000))),
  ]);
  return new ClientEvents(child);
}

/** The opening phase of all clients together: counts summed, failure reasons merged. */
async function established(run: Run, clients: ClientEvents[]): Promise<number> {
  const events = await Promise.all(clients.map((c) => c.next('established', remainingMs())));
  const failures = new Map<string, number>();
  for (const e of events)
    for (const [reason, count] of Object.entries((e.failures ?? {}) as Record<string, number>))
      failures.set(reason, (failures.get(reason) ?? 0) + count);
  const sum = (key: string) => events.reduce((total, e) => total + Number(e[key]), 0);
  log(
    `N=${run.n}: ${clients.length} client(s) say ${sum('established')} established, ${sum('failed')} failed`,
  );
  if (failures.size > 0) log(`N=${run.n}: failure reasons ${JSON.stringify(Object.fromEntries(failures))}`);
  // The clients start together, so the slowest one's time is the opening phase's.
  return Math.max(...events.map((e) => Number(e.establishedMs)));
}

async function reports(clients: ClientEvents[]): Promise<Array<Record<string, unknown>>> {
  for (const c of clients) c.child.stdin!.write('report\n');
  return Promise.all(clients.map((c) => c.next('report', Math.min(30_000, remainingMs()))));
}

interface Gateway {
  server: ChildProcess;
  /** The last 4000 characters it wrote, for error messages. */
  tail: () => string;
}

function startGateway(run: Run, configFile: string): Gateway {
  // As the appliance is started (container/node-flags.ts).
  const server = run.spawnInNs(process.execPath, [
    ...applianceNodeFlags,
    outpostCli,
    'run',
    '--config',
    configFile,
  ]);
  const logStream = createWriteStream(run.serverLog);
  let tail = '';
  const keep = (d: Buffer) => {
    logStream.write(d);
    tail = (tail + d.toString()).slice(-4000);
  };
  server.stdout!.on('data', keep);
  server.stderr!.on('data', keep);
  return { server, tail: () => tail };
}

async function awaitReady(run: Run, gateway: Gateway): Promise<void> {
  const readyBy = Date.now() + 60_000;
  for (;;) {
    if (gateway.server.exitCode !== null)
      throw new Error(`outpost exited (${gateway.server.exitCode}):\n${gateway.tail()}`);
    const ready = await run
      .inNs('curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${adminPort}/readyz`], 5000)
      .then(
        () => true,
        () => false,
      );
    if (ready) return;
    if (Date.now() > readyBy) throw new Error(`outpost not ready within 60 s:\n${gateway.tail()}`);
    await sleep(200);
  }
}

async function measure(n: number, workers: number): Promise<Row> {
  const run = new Run(n, workers);
  current = run;
  try {
    await run.setUp();
    const { jwksFile, tokenFile } = await signedToken(run.work);
    const configFile = writeConfig(run, jwksFile);
    const gateway = startGateway(run, configFile);
    await awaitReady(run, gateway);
    const pid = await gatewayPid(run, configFile);
    await awaitWorkers(run, pid);
    await sleep(2000);
    const before = await metrics(run);
    const processesBefore = await sampleGateway(run, pid);
    log(
      `N=${n}: gateway pid ${pid} (+${processesBefore.length - 1} workers) in ${run.ns}, RSS ${(totalRss(processesBefore) / 1048576).toFixed(1)} MiB before`,
    );

    const plans = planClients(n);
    const clients = plans.map((plan) => spawnClient(run, plan, tokenFile));
    const establishMs = await established(run, clients);
    await sleep(Math.min(settleMs, remainingMs()));

    const after = await metrics(run);
    const processesAfter = await sampleGateway(run, pid);
    const report = await reports(clients);
    if (gateway.server.exitCode !== null)
      throw new Error(`outpost exited during the run (${gateway.server.exitCode}):\n${gateway.tail()}`);
    const gaugeSessions = after.get('outpost_gateway_sessions') ?? Number.NaN;
    const clientsHeld = report.map((r) => Number(r.held));
    const clientHeld = clientsHeld.reduce((a, b) => a + b, 0);
    const sum = (key: string) => report.reduce((total, r) => total + Number(r[key]), 0);
    return {
      n,
      workers,
      clients: clients.length,
      held: Math.min(gaugeSessions, clientHeld),
      gaugeSessions,
      clientHeld,
      failed: sum('failed'),
      lost: sum('lost'),
      rssBefore: totalRss(processesBefore),
      rssAfter: totalRss(processesAfter),
      heapBefore: before.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
      heapAfter: after.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
      establishMs,
      processesBefore,
      processesAfter,
      clientsHeld,
    };
  } finally {
    await run.cleanUp();
    current = undefined;
  }
}

function perSessionKib(before: number, after: number, held: number): number {
  return held > 0 ? (after - before) / held / 1024 : Number.NaN;
}

const mib = (b: number) => (b / 1048576).toFixed(1);

/** Right-aligned columns, the header first. */
function printColumns(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

function printTable(rows: Row[]): void {
  const header = [
    'asked',
    'N',
    'workers',
    'clients',
    'held',
    'gauge',
    'failed',
    'lost',
    'RSS before MiB',
    'RSS after MiB',
    'RSS KiB/session',
    'heap before MiB',
    'heap after MiB',
    'heap KiB/session',
    'establish s',
    'sessions/s',
  ];
  const lines = rows.map((r) => [
    String(r.asked ?? r.n),
    String(r.n),
    String(r.workers),
    String(r.clients),
    String(r.held),
    String(r.gaugeSessions),
    String(r.failed),
    String(r.lost),
    mib(r.rssBefore),
    mib(r.rssAfter),
    perSessionKib(r.rssBefore, r.rssAfter, r.held).toFixed(2),
    mib(r.heapBefore),
    mib(r.heapAfter),
    perSessionKib(r.heapBefore, r.heapAfter, r.held).toFixed(2),
    (r.establishMs / 1000).toFixed(1),
    (r.clientHeld / (r.establishMs / 1000)).toFixed(0),
  ]);
  printColumns(header, lines);
}

/**
 * Where the memory sits: each gateway process before and after (matched by pid; '-' where a
 * process was not there), with the socket descriptors it gained, about the tunnels it carries.
 */
function printProcesses(rows: Row[]): void {
  const lines: string[][] = [];
  for (const r of rows) {
    const pids = [...new Set([...r.processesBefore, ...r.processesAfter].map((p) => p.pid))];
    let worker = 0;
    for (const pid of pids) {
      const b = r.processesBefore.find((p) => p.pid === pid);
      const a = r.processesAfter.find((p) => p.pid === pid);
      const role = (a ?? b)!.role === 'primary' ? 'primary' : `worker ${worker++}`;
      const delta = (f: (p: ProcessSample) => number, show: (x: number) => string) =>
        a && b ? show(f(a) - f(b)) : '-';
      lines.push([
        String(r.n),
        role,
        String(pid),
        b ? mib(b.rss) : '-',
        a ? mib(a.rss) : '-',
        delta((p) => p.rss, mib),
        b ? String(b.sockets) : '-',
        a ? String(a.sockets) : '-',
        delta((p) => p.sockets, String),
      ]);
    }
  }
  const header = [
    'N',
    'process',
    'pid',
    'RSS before MiB',
    'RSS after MiB',
    'RSS +MiB',
    'sockets before',
    'sockets after',
    'sockets +',
  ];
  printColumns(header, lines);
  for (const r of rows)
    console.log(`N=${r.n}: sessions held per client process: ${r.clientsHeld.join(', ')}`);
}

/**
 * `--workers auto`: one process when its open-files limit holds N sessions; else one worker per
 * 16,000 sessions (or per limit's worth, if lower), rounded up to a power of two, at most 8.
 */
function autoWorkers(n: number): number {
  const perProcess = nofile - fdReserve;
  if (n <= perProcess) return 1;
  const needed = Math.ceil(n / Math.min(16_000, perProcess));
  return Math.min(8, 2 ** Math.ceil(Math.log2(needed)));
}

/** Each worker holds about N / workers sessions, so the limit caps N per process, not overall. */
function capSessions(asked: number, workers: number): number {
  const n = Math.min(asked, (nofile - fdReserve) * workers);
  if (n < asked)
    log(
      `open-files hard limit is ${nofile} and cannot be raised here (no CAP_SYS_RESOURCE): ` +
        `${workers} gateway process(es) of at most ${nofile - fdReserve} sessions each, N=${asked} capped to ${n}`,
    );
  return n;
}

async function main(): Promise<void> {
  requireForBench('bench:sessions', ['ip', 'prlimit', 'curl'], { root: true });
  nofile = await fdLimit();
  const rows: Row[] = [];
  for (const asked of sizes) {
    const workers = workersOption === 'auto' ? autoWorkers(asked) : workersOption;
    const n = capSessions(asked, workers);
    log(`--- N=${n}, ${workers} gateway worker(s), concurrency ${concurrency}, open-files limit ${nofile}`);
    rows.push({ ...(await measure(n, workers)), asked });
  }
  console.log(
    `idle CSTP sessions (token auth, TLS 1.3, one TLS connection per session, clients in processes of their own, RSS summed over the gateway's primary and worker processes); settle ${settleMs / 1000} s`,
  );
  printTable(rows);
  printProcesses(rows);
  const last = rows[rows.length - 1]!;
  const kib = perSessionKib(last.rssBefore, last.rssAfter, last.held);
  console.log(`sessions: held=${last.held} rss_per_session_kib=${kib.toFixed(2)} target_kib=${targetKib}`);
}

runBench(main, () => current, log);
