import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { caExtensions, TestPki } from '../../certs/testing/test-pki.js';
import { applianceNodeFlags } from '../../container/node-flags.js';
import { type RunningHaproxy, startHaproxy } from '../../test/testing/haproxy.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from '../../test/testing/postgres.js';
import { requireForBench } from '../needs.js';
import {
  BenchNamespace,
  ClientEvents,
  fdLimit,
  fdReserve,
  idleClientJs,
  outpostCli,
  processCpuMs,
  runBench,
  share,
} from './bench-processes.js';

/**
 * `npm run bench:sessions -- --site`: a failover storm. Two gateway nodes (A, B) share their
 * sessions in PostgreSQL 15 behind HAProxy 2.6 (TCP, send-proxy-v2, health checks, redispatch),
 * all in one network namespace. HAProxy holds two descriptors per connection, so where the
 * open-files limit is low it runs as several instances (one per client process, each on a port of
 * its own, the same configuration), as a site runs several balancers behind one name; then the
 * gateway process, which holds every session, is what caps N. A is drained while N idle sessions log in (certificate auth), so
 * they all land on B; A takes clients again; then B is SIGKILLed. Every client process
 * (bench/tunnel/cstp-idle-client.ts --resume) reconnects each dropped tunnel with its cookie, as
 * openconnect does, through HAProxy, to A. Measured: the time until every session is back (on A),
 * A's CPU per resumed session (its own and its children's, less its idle rate), then A's CPU per
 * fresh certificate login (TLS handshake with a client certificate, auth, CONNECT) over M more
 * sessions, less A's idle rate while it holds the resumed tunnels; PostgreSQL's CPU is printed beside. The last line is exactly:
 *
 *   failover: sessions=… resumed=… seconds=… cpu_ms_per_resume=… cpu_ms_per_login=…
 */
const { values } = parseArgs({
  options: {
    site: { type: 'boolean', default: false },
    /** Idle sessions on B before it is killed; capped by the open-files limit of one process (A holds them all). */
    sessions: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    /** Fresh certificate logins on A after the failover, for the per-login CPU. */
    logins: { type: 'string', default: '1000' },
    'timeout-s': { type: 'string', default: '1200' },
  },
});

const exec = promisify(execFile);
/** HAProxy instance i listens on balancerPort + i (past the nodes' ports). */
const balancerPort = 8450;
const node = {
  a: { port: 8444, admin: 9091, tun: 'ositea', pool: '10.101.0.0/17' },
  b: { port: 8445, admin: 9092, tun: 'ositeb', pool: '10.101.128.0/17' },
} as const;
type NodeName = keyof typeof node;

const asked = positive('sessions', values.sessions!);
const concurrency = positive('concurrency', values.concurrency!);
const freshLogins = positive('logins', values.logins!);
const deadline = Date.now() + positive('timeout-s', values['timeout-s']!) * 1000;
let nofile = 1_048_576;

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: ${text} is not a positive integer`);
  return n;
}

const log = (m: string) => process.stderr.write(`site-failover: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const remainingMs = () => {
  const left = deadline - Date.now();
  if (left <= 0) throw new Error('run timeout (--timeout-s) reached');
  return left;
};

/** Everything the run makes, undone by cleanUp whatever happened. */
class Site extends BenchNamespace {
  readonly work = mkdtempSync(join(tmpdir(), 'outpost-site-bench-'));
  pki = new TestPki({ dir: join(this.work, 'pki') });
  postgres?: RunningPostgres;
  readonly balancers: RunningHaproxy[] = [];

  constructor() {
    super(`opsite-${randomBytes(3).toString('hex')}`, { remainingMs, nofile: () => nofile });
  }

  async setUp(): Promise<void> {
    await this.create();
    this.pki.selfSigned('ca', { subject: '/CN=Site Bench CA', extensions: caExtensions });
    this.pki.issue('server', {
      issuer: 'ca',
      subject: '/CN=127.0.0.1',
      extensions: ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'],
    });
    this.pki.issue('device', {
      issuer: 'ca',
      subject: '/OU=Devices/CN=bench-device',
      extensions: ['extendedKeyUsage=clientAuth'],
    });
    this.postgres = await startPostgres();
    await this.postgres.createDatabase('site');
  }

  /** `graceMs` 0: SIGKILL at once; more: SIGTERM first (a CPU profile is written on exit). */
  async cleanUp(graceMs = 0): Promise<void> {
    await this.stopChildren(graceMs);
    for (const balancer of this.balancers) await balancer.stop().catch(() => undefined);
    await this.destroy([node.a.tun, node.b.tun], log);
    await this.postgres?.stop().catch(() => undefined);
    rmSync(this.work, { recursive: true, force: true });
  }
}

let current: Site | undefined;

function writeConfig(site: Site, name: NodeName): string {
  const n = node[name];
  const dir = join(site.work, name);
  const file = join(site.work, `${name}.yaml`);
  const pg = site.postgres!;
  writeFileSync(
    file,
    stringify({
      dataDir: dir,
      roles: ['gateway'],
      admin: { listen: `127.0.0.1:${n.admin}` },
      // OUTPOST_BENCH_LOG_LEVEL=debug: why connections fail, in $TMPDIR/outpost-site-bench-<node>.log.
      log: { level: process.env.OUTPOST_BENCH_LOG_LEVEL ?? 'warn' },
      gateway: {
        listen: `127.0.0.1:${n.port}`,
        nodeName: `gw-${name}`,
        tls: { cert: site.pki.path('server.pem'), key: site.pki.path('server.key') },
        pool: { ipv4: n.pool },
        tun: { name: n.tun, mtu: 1472 },
        auth: { methods: ['certificate'], certificate: { ca: site.pki.path('ca.pem'), usernameFrom: 'cn' } },
        proxyProtocol: true,
        trustedProxies: ['127.0.0.1'],
        timers: { dpd: 3600, keepalive: 3600, idle: 7200, session: 86400, cookie: 3600 },
        limits: { maxClients: 70_000, maxSessionsPerUser: 70_000 },
      },
      state: {
        backend: 'postgres',
        postgres: {
          url: `postgres://${pg.user}@${encodeURIComponent(pg.socketDir)}:${pg.port}/site`,
          passwordFile: pg.passwordFile,
          poolSize: 10,
        },
      },
    }),
  );
  return file;
}

interface Gateway {
  name: NodeName;
  pid: number;
  process: ChildProcess;
  configFile: string;
}

async function startGateway(site: Site, name: NodeName): Promise<Gateway> {
  const configFile = writeConfig(site, name);
  // OUTPOST_BENCH_CPU_PROFILE=DIR: node's --cpu-prof of gateway A, written when A stops at the end.
  const profile = process.env.OUTPOST_BENCH_CPU_PROFILE;
  const profiling = profile && name === 'a' ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
  // OUTPOST_BENCH_NODE_FLAGS: more node flags for gateway A (`--perf-basic-prof` for `perf record`).
  const flags = name === 'a' ? (process.env.OUTPOST_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean) : [];
  profiling.push(...flags);
  // As the appliance is started (container/node-flags.ts), then the bench's own flags for A.
  const child = site.spawnInNs(process.execPath, [
    ...applianceNodeFlags,
    ...profiling,
    outpostCli,
    'run',
    '--config',
    configFile,
  ]);
  const out = createWriteStream(join(tmpdir(), `outpost-site-bench-${name}.log`));
  let tail = '';
  const keep = (d: Buffer) => {
    out.write(d);
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const readyBy = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway ${name} exited (${child.exitCode}):\n${tail}`);
    const ready = await site
      .inNs('curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${node[name].admin}/readyz`], 5000)
      .then(
        () => true,
        () => false,
      );
    if (ready) break;
    if (Date.now() > readyBy) throw new Error(`gateway ${name} not ready within 60 s:\n${tail}`);
    await sleep(200);
  }
  // `ip netns exec` and `prlimit` exec into node: the child's pid is the gateway's.
  log(`gateway ${name}: pid ${child.pid}`);
  return { name, pid: child.pid!, process: child, configFile };
}

async function cliOn(site: Site, gateway: Gateway, args: string[]): Promise<string> {
  return (await site.inNs(process.execPath, [outpostCli, ...args, '--config', gateway.configFile])).stdout;
}

/** A node's counters that explain failed reconnect attempts (connections shed, handshakes timed out). */
async function refusalsOn(site: Site, name: NodeName): Promise<string> {
  const { stdout } = await site.inNs('curl', ['-sf', `http://127.0.0.1:${node[name].admin}/metrics`]);
  const value = (metric: string) => new RegExp(`^${metric} (\\d+)`, 'm').exec(stdout)?.[1] ?? '?';
  return `shed ${value('outpost_gateway_connections_shed_total')}, handshakes timed out ${value('outpost_gateway_handshake_timeouts_total')}`;
}

/**
 * `outpost_gateway_sessions` of a node once it reaches `expected` (the gauge is refreshed once a
 * second), or whatever it says after 5 s.
 */
async function sessionsOn(site: Site, name: NodeName, expected: number): Promise<number> {
  const until = Date.now() + 5000;
  for (;;) {
    const { stdout } = await site.inNs('curl', ['-sf', `http://127.0.0.1:${node[name].admin}/metrics`]);
    const held = Number(/^outpost_gateway_sessions (\d+)/m.exec(stdout)?.[1] ?? Number.NaN);
    if (held >= expected || Date.now() > until) return held;
    await sleep(250);
  }
}

/** Sessions one client process opens: it goes through one HAProxy instance, which must carry them. */
const perClientProcess = () => Math.min(15_000, nofile - fdReserve, haproxyRoom());

/** Client processes for `sessions`, the ith through HAProxy instance firstBalancer + i. */
const clientProcesses = (sessions: number) => Math.ceil(sessions / perClientProcess());

function spawnClients(
  site: Site,
  sessions: number,
  firstSource: number,
  firstBalancer: number,
  resume: boolean,
): ClientEvents[] {
  const k = clientProcesses(sessions);
  return Array.from({ length: k }, (_, i) => {
    const child = site.spawnInNs(process.execPath, [
      idleClientJs,
      '--host',
      '127.0.0.1',
      '--port',
      String(balancerPort + firstBalancer + i),
      '--sessions',
      String(share(sessions, k, i)),
      '--concurrency',
      String(Math.max(1, share(concurrency, k, i))),
      '--source-base',
      `127.0.${firstSource + i}.1`,
      '--ca',
      site.pki.path('ca.pem'),
      '--cert',
      site.pki.path('device.pem'),
      '--key',
      site.pki.path('device.key'),
      '--deadline-s',
      String(Math.max(10, Math.floor((remainingMs() - 60_000) / 1000))),
      ...(resume ? ['--resume'] : []),
    ]);
    return new ClientEvents(child);
  });
}

async function established(clients: ClientEvents[]): Promise<{ established: number; ms: number }> {
  const events = await Promise.all(clients.map((c) => c.next('established', remainingMs())));
  return {
    established: events.reduce((sum, e) => sum + Number(e.established), 0),
    ms: Math.max(...events.map((e) => Number(e.establishedMs))),
  };
}

async function report(clients: ClientEvents[]) {
  for (const c of clients) c.child.stdin!.write('report\n');
  const events = await Promise.all(clients.map((c) => c.next('report', Math.min(30_000, remainingMs()))));
  const sum = (key: string) => events.reduce((total, e) => total + Number(e[key]), 0);
  const why = new Map<string, number>();
  for (const e of events)
    for (const [reason, count] of Object.entries((e.resumeFailures ?? {}) as Record<string, number>))
      why.set(reason, (why.get(reason) ?? 0) + count);
  return {
    why: [...why].sort((x, y) => y[1] - x[1]).slice(0, 4),
    held: sum('held'),
    resumed: sum('resumed'),
    retries: sum('resumeAttemptsFailed'),
    refused: sum('resumeRefused'),
  };
}

/** CPU of the postmaster and every backend (its children), in ms. */
async function postgresCpuMs(site: Site): Promise<number> {
  const postmaster = site.postgres!.pid();
  const { stdout } = await exec('ps', ['-o', 'pid=', '--ppid', String(postmaster)]);
  const pids = [postmaster, ...stdout.split(/\s+/).filter(Boolean).map(Number)];
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuMs(pid);
    } catch {
      // a backend that ended meanwhile: its time is in the postmaster's cutime
    }
  }
  return total;
}

/**
 * A's CPU in ms per ms of wall time while nothing happens (heartbeats, event polls, timers).
 * /proc counts CPU in 10 ms ticks, so a 3 s window read in steps of 3.3 ms/s and once gave 60
 * ms/s where A normally reads 23–33 (±0.1–0.25 ms per resume at 18,800): 10 s steps by 1 ms/s.
 */
async function idleRate(pid: number): Promise<number> {
  const [cpu0, t0] = [processCpuMs(pid), Date.now()];
  await sleep(10_000);
  return (processCpuMs(pid) - cpu0) / (Date.now() - t0);
}

/** Connections HAProxy is given beyond the sessions (health checks, stats, reconnect overlap). */
const haproxySpare = 500;

/** Sessions one HAProxy instance can carry: about two descriptors per connection, and some for itself. */
function haproxyRoom(): number {
  return Math.floor((nofile - 2000) / 2) - haproxySpare;
}

/** Reconnects a client process keeps in flight (cstp-idle-client's --resume-concurrency default). */
const resumeInFlight = 256;

/**
 * The sessions gateway A can hold in its one process: the resumed ones, and beside them either the
 * reconnects in flight (during the storm) or the fresh logins (after it), and its own descriptors.
 */
function gatewayRoom(sessions: number): number {
  return nofile - fdReserve - Math.max(freshLogins, resumeInFlight * clientProcesses(sessions));
}

/** One HAProxy 2.6 instance on balancerPort + i, both gateways behind it; `sessions` its share. */
function startBalancer(site: Site, i: number, sessions: number): Promise<RunningHaproxy> {
  return startHaproxy({
    namespace: site.ns,
    checkIntervalMs: 300,
    maxconn: sessions + haproxySpare,
    nofile,
    frontends: [
      {
        name: 'vpn',
        mode: 'tcp',
        bind: `127.0.0.1:${balancerPort + i}`,
        sendProxyV2: true,
        redispatch: true,
        balance: 'leastconn',
        servers: (['a', 'b'] as const).map((name) => ({
          name: `gw_${name}`,
          address: `127.0.0.1:${node[name].port}`,
          check: { port: node[name].admin, path: '/healthz/gateway' },
        })),
      },
    ],
  });
}

/** Waits until every balancer sees the gateway up (or down). */
async function serverOnAll(site: Site, name: NodeName, up: boolean): Promise<void> {
  await Promise.all(site.balancers.map((b) => b.waitForServers([`gw_${name}`], up)));
}

async function main(): Promise<void> {
  requireForBench(
    'bench:sessions -- --site',
    ['ip', 'prlimit', 'curl', 'haproxy', 'ps', ...postgresPrograms()],
    {
      root: true,
    },
  );
  nofile = await fdLimit();
  // Gateway A holds every session in one process (its soft limit can rise only to the hard one):
  // the open-files limit caps the storm. HAProxy's two sockets per session are spread over as
  // many instances as it takes.
  let n = Math.min(asked, 60_000);
  while (n > gatewayRoom(n)) n = gatewayRoom(n);
  if (n < asked) log(`open-files limit ${nofile}: ${asked} sessions capped to ${n}`);
  const stormProcesses = clientProcesses(n);
  const site = new Site();
  current = site;
  try {
    await site.setUp();
    const [a, b] = [await startGateway(site, 'a'), await startGateway(site, 'b')];
    await cliOn(site, a, ['sessions', 'drain', 'on']);
    // One instance per client process: the storm's, then the fresh logins'.
    const shares = [
      ...Array.from({ length: stormProcesses }, (_, i) => share(n, stormProcesses, i)),
      ...Array.from({ length: clientProcesses(freshLogins) }, (_, i) =>
        share(freshLogins, clientProcesses(freshLogins), i),
      ),
    ];
    for (const [i, sessions] of shares.entries()) site.balancers.push(await startBalancer(site, i, sessions));
    await serverOnAll(site, 'b', true);
    await serverOnAll(site, 'a', false);

    log(`${n} sessions log in through ${stormProcesses} HAProxy instance(s), all to B (A drained)`);
    const clients = spawnClients(site, n, 1, 0, true);
    const opened = await established(clients);
    const onB = await sessionsOn(site, 'b', opened.established);
    log(`${opened.established} established in ${(opened.ms / 1000).toFixed(1)} s; B holds ${onB}`);
    await cliOn(site, a, ['sessions', 'drain', 'off']);
    await serverOnAll(site, 'a', true);
    const rate = await idleRate(a.pid);

    const before = await report(clients);
    const clientsCpuMs = () => clients.reduce((sum, c) => sum + processCpuMs(c.child.pid!), 0);
    const [cpuA0, pg0, t0, clients0] = [
      processCpuMs(a.pid),
      await postgresCpuMs(site),
      Date.now(),
      clientsCpuMs(),
    ];
    b.process.kill('SIGKILL');
    log(`B (pid ${b.pid}) killed with ${before.held} tunnels`);
    let now = before;
    while (now.resumed < before.held && now.refused === 0) {
      await sleep(100);
      now = await report(clients);
      if (Date.now() - t0 > Math.min(600_000, remainingMs())) break;
    }
    const seconds = (Date.now() - t0) / 1000;
    const cpuA = processCpuMs(a.pid) - cpuA0 - rate * (Date.now() - t0);
    const pgResume = (await postgresCpuMs(site)) - pg0;
    const clientsResume = clientsCpuMs() - clients0;
    const onA = await sessionsOn(site, 'a', now.resumed);
    log(
      `resumed ${now.resumed} of ${before.held} in ${seconds.toFixed(2)} s (${now.retries} reconnect attempts failed, ${now.refused} cookies refused); A holds ${onA}`,
    );

    const refusals = await refusalsOn(site, 'a');
    log(`A's own refusals: ${refusals}`);

    // A now carries every tunnel (their timers, the site's heartbeat over them): its idle rate is
    // measured again, so the logins are not charged for the tunnels' upkeep.
    // OUTPOST_BENCH_HOLD_S=N: A holds the resumed tunnels N s more before that (to profile its upkeep).
    const holdS = Number(process.env.OUTPOST_BENCH_HOLD_S ?? 0);
    if (holdS > 0) {
      log(`holding ${before.held} tunnels on A (pid ${a.pid}) for ${holdS} s`);
      await sleep(holdS * 1000);
    }
    const rateHolding = await idleRate(a.pid);
    log(`${freshLogins} fresh certificate logins on A`);
    const [cpuL0, pgL0, tL0] = [processCpuMs(a.pid), await postgresCpuMs(site), Date.now()];
    const fresh = spawnClients(site, freshLogins, 200, stormProcesses, false);
    const loggedIn = await established(fresh);
    const cpuLogin = processCpuMs(a.pid) - cpuL0 - rateHolding * (Date.now() - tL0);
    const pgLogin = (await postgresCpuMs(site)) - pgL0;

    const perResume = now.resumed > 0 ? cpuA / now.resumed : Number.NaN;
    const perLogin = loggedIn.established > 0 ? cpuLogin / loggedIn.established : Number.NaN;
    console.log(
      `site failover (2 gateways behind HAProxy 2.6 (${site.balancers.length} instances), PostgreSQL 15 state, certificate auth, TLS 1.3, one namespace; CPU = the gateway process and its children, less its idle rate)`,
    );
    console.log(`  sessions on B before the kill:      ${before.held}`);
    console.log(`  resumed on A:                        ${now.resumed} in ${seconds.toFixed(2)} s`);
    console.log(`  sessions A holds then (its gauge):  ${onA}`);
    console.log(`  reconnect attempts that failed:      ${now.retries}; cookies refused: ${now.refused}`);
    if (now.why.length > 0) console.log(`    why: ${now.why.map(([r, c]) => `${c}× ${r}`).join('; ')}`);
    console.log(`  A's refusals during the failover:    ${refusals}`);
    console.log(
      `  A's idle CPU:                        ${(rate * 1000).toFixed(1)} ms/s before (less for the resumes), ${(rateHolding * 1000).toFixed(1)} ms/s holding the tunnels (less for the logins)`,
    );
    console.log(`  A's CPU per resume:                  ${perResume.toFixed(2)} ms`);
    console.log(
      `  PostgreSQL CPU per resume:           ${(pgResume / Math.max(1, now.resumed)).toFixed(2)} ms`,
    );
    console.log(
      `  bench clients' CPU per resume:       ${(clientsResume / Math.max(1, now.resumed)).toFixed(2)} ms (the other side of each handshake, on this machine too)`,
    );
    console.log(
      `  fresh logins on A:                   ${loggedIn.established} in ${(loggedIn.ms / 1000).toFixed(1)} s`,
    );
    console.log(`  A's CPU per certificate login:       ${perLogin.toFixed(2)} ms`);
    console.log(
      `  PostgreSQL CPU per login:            ${(pgLogin / Math.max(1, loggedIn.established)).toFixed(2)} ms`,
    );
    console.log(`  load average:                        ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    console.log(
      `failover: sessions=${before.held} resumed=${now.resumed} seconds=${seconds.toFixed(2)} cpu_ms_per_resume=${perResume.toFixed(2)} cpu_ms_per_login=${perLogin.toFixed(2)}`,
    );
  } finally {
    await site.cleanUp(process.env.OUTPOST_BENCH_CPU_PROFILE ? 15_000 : 0);
    current = undefined;
  }
}

runBench(main, () => current, log);
