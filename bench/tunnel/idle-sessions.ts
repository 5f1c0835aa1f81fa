import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { exportJWK, SignJWT } from 'jose';
import { stringify } from 'yaml';

/**
 * `npm run bench:sessions`: how many concurrent idle VPN sessions the gateway holds, and what
 * each costs in memory (the goal: 64,000 sessions at under 20 KiB each).
 *
 * In a network namespace of its own it starts `outpost run` (gateway role only, token auth
 * against a JWKS this bench makes, pool 10.100.0.0/16, long timers), then a separate client
 * process (bench/tunnel/cstp-idle-client.ts, so its memory is its own) opens N TLS tunnels with
 * bounded concurrency and holds them. The gateway's resident memory (VmRSS of its node process,
 * and prom-client's heap figure from /metrics) is read before and after, with the session count
 * from `outpost_gateway_sessions`. Needs root. `--sessions 2000,10000` runs each size on a fresh
 * gateway. The last line is exactly:
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
    /** The whole run (all sizes) is abandoned after this many seconds. */
    'timeout-s': { type: 'string', default: '2400' },
  },
});

const exec = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'dist/container/cli/main.js');
const clientJs = join(root, 'dist/bench/tunnel/cstp-idle-client.js');
const targetKib = 20;
/** Set by main(): 1048576 where allowed, else the hard limit this process may raise to. */
let nofile = 1_048_576;
const listenPort = 8443;
const adminPort = 9090;
const tunName = 'oidle0';

const sizes = values.sessions!.split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65_000) throw new Error(`--sessions: ${s} is not in 1..65000`);
  return n;
});
const concurrency = Number(values.concurrency);
const settleMs = Number(values.settle) * 1000;
const runDeadline = Date.now() + Number(values['timeout-s']) * 1000;
if (!(concurrency >= 1 && concurrency <= 4096)) throw new Error('--concurrency must be in 1..4096');

interface Row {
  /** Sessions asked for; n is less when the open-files limit caps it. */
  asked?: number;
  n: number;
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
}

const log = (m: string) => process.stderr.write(`idle-sessions: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function remainingMs(): number {
  const left = runDeadline - Date.now();
  if (left <= 0) throw new Error('run timeout (--timeout-s) reached');
  return left;
}

/** Everything one run creates, so that cleanup can undo it whatever happened. */
class Run {
  readonly ns = `opidle-${randomBytes(3).toString('hex')}`;
  readonly work = mkdtempSync(join(tmpdir(), 'outpost-idle-'));
  readonly children: ChildProcess[] = [];
  nsCreated = false;

  inNs(cmd: string, args: string[], timeoutMs = 30_000) {
    return exec('ip', ['netns', 'exec', this.ns, cmd, ...args], {
      timeout: Math.min(timeoutMs, remainingMs()),
      maxBuffer: 64 << 20,
    });
  }

  spawnInNs(cmd: string, args: string[]): ChildProcess {
    const limit = `--nofile=${nofile}:${nofile}`;
    const child = spawn('ip', ['netns', 'exec', this.ns, 'prlimit', limit, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.push(child);
    return child;
  }

  async setUp(): Promise<void> {
    await exec('ip', ['netns', 'add', this.ns]);
    this.nsCreated = true;
    await exec('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    await this.inNs('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // 64k client sockets: widen the ephemeral range (the client also spreads over 127.0.0.1-8).
    await this.inNs('sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65000']);
    await this.inNs('sysctl', ['-qw', 'net.core.somaxconn=4096']);
  }

  async cleanUp(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGTERM');
    const gone = Date.now() + 10_000;
    while (this.children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < gone)
      await sleep(200);
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    if (this.nsCreated) {
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
      await sleep(300);
      await exec('ip', ['-n', this.ns, 'link', 'del', tunName]).catch(() => undefined);
      await exec('ip', ['netns', 'del', this.ns]).catch((e) => log(`cannot delete ${this.ns}: ${e}`));
      this.nsCreated = false;
    }
    rmSync(this.work, { recursive: true, force: true });
  }
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

/** The gateway's own node process (not `ip`/`prlimit`, which exec into it anyway). */
async function gatewayPid(run: Run, configFile: string): Promise<number> {
  const { stdout } = await exec('ip', ['netns', 'pids', run.ns]);
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(cli) && cmd.includes('run') && cmd.includes(configFile)) return Number(pid);
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no gateway node process in ${run.ns}`);
}

function vmRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

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

/** Lines of JSON from the client's stdout, handed to whoever waits for the next event. */
class ClientEvents {
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
      const onExit = () => reject(new Error(`client exited before ${event}`));
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

async function measure(n: number): Promise<Row> {
  const run = new Run();
  current = run;
  try {
    await run.setUp();
    const { jwksFile, tokenFile } = await signedToken(run.work);
    const configFile = writeConfig(run, jwksFile);
    const serverLog = join(run.work, 'outpost.log');
    const server = run.spawnInNs(process.execPath, [cli, 'run', '--config', configFile]);
    const logStream = createWriteStream(serverLog);
    let tail = '';
    const keep = (d: Buffer) => {
      logStream.write(d);
      tail = (tail + d.toString()).slice(-4000);
    };
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);

    const readyBy = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`outpost exited (${server.exitCode}):\n${tail}`);
      const ready = await run
        .inNs('curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${adminPort}/readyz`], 5000)
        .then(
          () => true,
          () => false,
        );
      if (ready) break;
      if (Date.now() > readyBy) throw new Error(`outpost not ready within 60 s:\n${tail}`);
      await sleep(200);
    }
    const pid = await gatewayPid(run, configFile);
    await sleep(2000);
    const before = await metrics(run);
    const rssBefore = vmRssBytes(pid);
    log(`N=${n}: gateway pid ${pid} in ${run.ns}, RSS ${(rssBefore / 1048576).toFixed(1)} MiB before`);

    const client = run.spawnInNs(process.execPath, [
      clientJs,
      '--host',
      '127.0.0.1',
      '--port',
      String(listenPort),
      '--sessions',
      String(n),
      '--concurrency',
      String(concurrency),
      '--ca',
      join(run.work, 'data', 'ca', 'ca.pem'),
      '--token-file',
      tokenFile,
      '--deadline-s',
      String(Math.max(10, Math.floor((remainingMs() - 60_000) / 1000))),
    ]);
    const events = new ClientEvents(client);
    const established = await events.next('established', remainingMs());
    log(`N=${n}: client says ${established.established} established, ${established.failed} failed`);
    if (established.failures && Object.keys(established.failures).length > 0)
      log(`N=${n}: failure reasons ${JSON.stringify(established.failures)}`);
    await sleep(Math.min(settleMs, remainingMs()));

    const after = await metrics(run);
    const rssAfter = vmRssBytes(pid);
    client.stdin!.write('report\n');
    const report = await events.next('report', Math.min(30_000, remainingMs()));
    if (server.exitCode !== null)
      throw new Error(`outpost exited during the run (${server.exitCode}):\n${tail}`);
    const gaugeSessions = after.get('outpost_gateway_sessions') ?? Number.NaN;
    const clientHeld = Number(report.held);
    return {
      n,
      held: Math.min(gaugeSessions, clientHeld),
      gaugeSessions,
      clientHeld,
      failed: Number(report.failed),
      lost: Number(report.lost),
      rssBefore,
      rssAfter,
      heapBefore: before.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
      heapAfter: after.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
      establishMs: Number(established.establishedMs),
    };
  } finally {
    await run.cleanUp();
    current = undefined;
  }
}

function perSessionKib(before: number, after: number, held: number): number {
  return held > 0 ? (after - before) / held / 1024 : Number.NaN;
}

function printTable(rows: Row[]): void {
  const mib = (b: number) => (b / 1048576).toFixed(1);
  const header = [
    'asked',
    'N',
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
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

/**
 * The file-descriptor limit both processes get: 1048576, or, without CAP_SYS_RESOURCE (some
 * containers), the hard limit already in force, which then caps the sessions one process can hold.
 */
async function fdLimit(): Promise<number> {
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

/** Descriptors the gateway needs besides its sessions (listeners, TUN, database, stdio, epoll, …). */
const fdReserve = 200;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:sessions needs root (network namespaces, TUN)');
  nofile = await fdLimit();
  const rows: Row[] = [];
  for (const asked of sizes) {
    const n = Math.min(asked, nofile - fdReserve);
    if (n < asked)
      log(
        `open-files hard limit is ${nofile} and cannot be raised here (no CAP_SYS_RESOURCE): N=${asked} capped to ${n}`,
      );
    log(`--- N=${n}, concurrency ${concurrency}, open-files limit ${nofile}`);
    rows.push({ ...(await measure(n)), asked });
  }
  console.log(
    `idle CSTP sessions (token auth, TLS 1.3, one TLS connection per session, client in its own process); settle ${settleMs / 1000} s`,
  );
  printTable(rows);
  const last = rows[rows.length - 1]!;
  const kib = perSessionKib(last.rssBefore, last.rssAfter, last.held);
  console.log(`sessions: held=${last.held} rss_per_session_kib=${kib.toFixed(2)} target_kib=${targetKib}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void (current?.cleanUp() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

main().catch(async (e) => {
  console.error(e);
  await current?.cleanUp().catch(() => undefined);
  process.exit(1);
});
