import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * `npm run bench:tunnel`: the same openconnect client and iperf3, in the same namespaces, through
 * Outpost's gateway and through ocserv (harness/ocserv-bench.sh, TLS only, certificate auth):
 * Debian's ocserv 1.1.6 always, and the newest release (1.5.0, built by
 * harness/build-ocserv-new.sh into /opt/ocserv-new) when it is there. Each round runs the
 * harness once per server, in ABBA order (the order reverses every round) so that load from other
 * work on the machine falls on all alike; each figure is the median over the rounds.
 *
 * Per server and test (single stream and 4 streams, up and down) it reports Mbit/s and the
 * server's CPU per gigabit: CPU-seconds of every process in the gateway namespace divided by the
 * gigabits moved (lower is better). Client, iperf3 and server share the machine's cores, so when
 * the client is the bottleneck the CPU figure is the fair comparison. A round in which the client
 * had to reconnect (a lost tunnel) fails the run.
 *
 * Last line, kept parseable:
 * `tunnel: outpost_up=… ocserv_up=… ratio_up=… outpost_down=… ocserv_down=… ratio_down=… ocserv=1.5.0 cpu_ratio=… tls=1.2`
 * where ocserv_* is the newest ocserv measured and cpu_ratio is Outpost's server CPU-seconds per
 * gigabit over that ocserv's, over all four tests. Needs root (network namespaces) and the
 * programs of scripts/peers.txt (`npm run peers:install`); the harness's `check` says which are
 * missing before anything starts.
 *
 * Like for like by default: `--tls 1.2` (the default) holds every server to TLS 1.2, the protocol
 * of ocserv's shipped configuration (its tls-priorities leave TLS 1.3 out); `--tls 1.3` lets every
 * server negotiate TLS 1.3. In both, ocserv's priorities put AES-128-GCM first, the AEAD Outpost
 * picks, so both sides run the same cipher (ocserv's shipped order starts with AES-256-GCM).
 * `--tls native` runs each server as shipped (Outpost TLS 1.3 AES-128-GCM against ocserv TLS 1.2
 * AES-256-GCM): not a like-for-like comparison. Each server's negotiated protocol and suite, as
 * openconnect reported it, is printed beside its figures; a run whose servers negotiated different
 * protocols says so. `--tls12 1` is the old spelling of `--tls 1.2`.
 *
 * `--dtls` runs the harness with DTLS=1 for every server: UDP on, and the client must establish
 * DTLS before anything is measured, so the figures are the DTLS data path's. The last line then
 * starts `tunnel-dtls:` instead of `tunnel:`.
 *
 * `--client-rcvbuf BYTES` gives openconnect's UDP sockets that receive buffer, for every server
 * alike (the harness's CLIENT_RCVBUF). By default they get net.core.rmem_default (208 KiB here),
 * and over DTLS the download is lost in that buffer: openconnect decrypts in one thread and a
 * burst overruns it. Each summary row shows the client's UDP receive-buffer drops per test.
 */
/** The checkout: this file runs as dist-tools/bench/tunnel/run.js. */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const { values } = parseArgs({
  options: {
    harness: { type: 'string', default: join(repo, 'bench/tunnel/harness/ocserv-bench.sh') },
    duration: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    /** 1 = also measure routing without a VPN each round (doubles the run time). */
    baseline: { type: 'string', default: '0' },
    /** 1.2 | 1.3: every server held to that TLS version (same AEAD too); native: each as shipped. */
    tls: { type: 'string', default: '1.2' },
    /** Old spelling: `--tls12 1` = `--tls 1.2`. */
    tls12: { type: 'string' },
    help: { type: 'boolean', default: false },
    /** The newest ocserv's binary; skipped when absent. */
    'ocserv-new': { type: 'string', default: '/opt/ocserv-new/sbin/ocserv' },
    /** 0 = leave Debian's ocserv out (only the newest ocserv and Outpost). */
    'ocserv-debian': { type: 'string', default: '1' },
    /** The DTLS (UDP) data path instead of TLS only, for every server. */
    dtls: { type: 'boolean', default: false },
    /** Bytes of receive buffer for openconnect's UDP sockets, every server alike (default: the host's). */
    'client-rcvbuf': { type: 'string', default: '' },
  },
});

if (values.help) {
  console.log(`npm run bench:tunnel -- [options]: Outpost against ocserv (1.5.0 when built, and Debian's 1.1.6)
  --repeat N          rounds, ABBA order (default 3)
  --duration S        seconds per iperf3 test (default 10)
  --tls 1.2|1.3|native  TLS version every server is held to, same AEAD on all (default 1.2);
                      native = each server as shipped (Outpost 1.3, ocserv 1.2: unequal)
  --ocserv-debian 0   leave Debian's ocserv 1.1.6 out
  --ocserv-new PATH   the newest ocserv's binary (default /opt/ocserv-new/sbin/ocserv; absent = skipped,
                      so a path that does not exist measures Outpost alone)
  --baseline 1        also measure routing without a VPN each round
  --dtls              the DTLS (UDP) data path instead of TLS only
  --client-rcvbuf N   openconnect's UDP receive buffer in bytes, for every server alike
  --harness PATH      the harness script (default bench/tunnel/harness/ocserv-bench.sh)
Environment passed to the harness, e.g. ONLY=down (run only the tests matching the regex; the others
print as NaN or undefined) and DIAG=1 (a diag line per test: both iperf3s' CPU, the server's threads, datagrams
per send syscall, the inner TCP sender's rtt/cwnd, Outpost's DTLS pacer counters).`);
  process.exit(0);
}
const tlsMode = values.tls12 === '1' ? '1.2' : values.tls!;
if (!['1.2', '1.3', 'native'].includes(tlsMode)) {
  console.error(`bench:tunnel: --tls ${tlsMode}: expected 1.2, 1.3 or native`);
  process.exit(2);
}

/**
 * ocserv's tls-priorities (GnuTLS) per mode: the harness's default (Debian's shipped string, TLS
 * 1.3 off), with TLS 1.3 allowed for 1.3, and in both like-for-like modes the AEADs in Outpost's
 * order (AES-128-GCM first; GnuTLS's NORMAL starts with AES-256-GCM). Outpost offers only AEAD
 * suites, so the CBC ones go here too.
 */
function ocservPriorities(): Record<string, string> {
  if (tlsMode === 'native') return {};
  const versions = tlsMode === '1.2' ? ':-VERS-TLS1.3' : '';
  return {
    TLS_PRIORITIES: `NORMAL:%SERVER_PRECEDENCE:%COMPAT:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1${versions}:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305`,
  };
}

const allTests = ['tcp-up', 'tcp-down', 'tcp-up-P4', 'tcp-down-P4'] as const;
type Test = (typeof allTests)[number];
/** The harness's ONLY (a regex over test names, for iterating): the other tests are not run, and their figures print as NaN. */
const only = process.env.ONLY ? new RegExp(process.env.ONLY) : undefined;
const tests: readonly Test[] = allTests.filter((t) => !only || only.test(t));

/** One harness run: per test Mbit/s and server CPU (1.0 = one core busy). */
interface Result {
  line: string;
  mbps: Record<Test, number>;
  cpu: Record<Test, number>;
  /** The negotiated protocol and suite as openconnect printed it, e.g. (TLS1.2)-(ECDHE-…)-(AES-128-GCM). */
  tls: string;
  /** Datagrams the client's UDP sockets dropped for a full receive buffer. */
  drops: Record<Test, number>;
}

interface Server {
  name: string;
  label: string;
  env: Record<string, string>;
}

const work = process.env.WORK ?? '/tmp/outpost-bench';

function runHarness(server: Server): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [values.harness!, 'all'], {
      env: {
        ...process.env,
        AUTH: 'cert',
        DURATION: values.duration!,
        REPEAT: '1',
        PARALLEL: '4',
        BASELINE: values.baseline!,
        TRANSCRIPT: '0',
        DTLS: values.dtls ? '1' : '0',
        CLIENT_RCVBUF: values['client-rcvbuf']!,
        WORK: work,
        ...server.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      const runId = /^# run (\S+)/m.exec(out)?.[1];
      if (code !== 0 || !runId) return fail(new Error(`${server.label}: harness failed (${code}): ${line}`));
      const connects = tunnelsOpened();
      if (connects !== 1) {
        return fail(
          new Error(
            `${server.label}: the client connected ${connects} times in one round (a tunnel was lost)`,
          ),
        );
      }
      done({ line, ...figures(runId, server.name) });
    });
  });
}

/** CONNECTs the client made during the last harness run (1 when no tunnel was lost). */
function tunnelsOpened(): number {
  const log = join(work, 'run', 'openconnect.log');
  if (!existsSync(log)) return Number.NaN;
  return readFileSync(log, 'utf8').match(/Got CONNECT response: HTTP\/1\.1 200/g)?.length ?? 0;
}

/** Mbit/s and server CPU per test from the run's TSV (columns: see the harness's run_bench). */
function figures(runId: string, serverName: string): Omit<Result, 'line'> {
  let tls = '';
  const rows = readFileSync(join(work, 'results', `${runId}.tsv`), 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  const mbps = {} as Record<Test, number>;
  const cpu = {} as Record<Test, number>;
  const drops = {} as Record<Test, number>;
  for (const row of rows) {
    const cells = row.split('\t');
    const [, server, phase, test, , rate, srvCpu, , , , , , cipher] = cells;
    if (server !== serverName || phase === 'baseline' || !tests.includes(test as Test)) continue;
    tls ||= cipher ?? '';
    mbps[test as Test] = Number(rate);
    cpu[test as Test] = Number(srvCpu) / 100;
    drops[test as Test] = Number(cells[13] ?? 0);
  }
  for (const t of tests) if (!(t in mbps)) throw new Error(`${serverName}: no ${t} figure in ${runId}.tsv`);
  return { mbps, cpu, tls, drops };
}

/** "TLS1.2 AES-128-GCM" from openconnect's "(TLS1.2)-(ECDHE-SECP256R1)-(ECDSA-SHA256)-(AES-128-GCM)". */
function shortTls(suite: string): string {
  const parts = suite.match(/\(([^)]*)\)/g)?.map((p) => p.slice(1, -1)) ?? [];
  return parts.length >= 2 ? `${parts[0]} ${parts.at(-1)}` : suite || 'unknown';
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU-seconds per gigabit over the given tests (equal durations: sum of CPU over sum of Gbit/s). */
function cpuPerGbit(r: Pick<Result, 'mbps' | 'cpu'>, which: readonly Test[] = tests): number {
  const cpu = which.reduce((n, t) => n + r.cpu[t], 0);
  const gbits = which.reduce((n, t) => n + r.mbps[t] / 1000, 0);
  return cpu / gbits;
}

interface Summary {
  mbps: Record<Test, number>;
  drops: Record<Test, number>;
  cpuPerGbit: Record<Test | 'all', number>;
}

function summarize(results: Result[]): Summary {
  const mbps = {} as Record<Test, number>;
  const drops = {} as Record<Test, number>;
  const perGbit = {} as Record<Test | 'all', number>;
  for (const t of tests) {
    mbps[t] = Math.round(median(results.map((r) => r.mbps[t])));
    drops[t] = Math.round(median(results.map((r) => r.drops[t])));
    perGbit[t] = median(results.map((r) => cpuPerGbit(r, [t])));
  }
  perGbit.all = median(results.map((r) => cpuPerGbit(r)));
  return { mbps, drops, cpuPerGbit: perGbit };
}

/** Run-queue pressure from everything else on the machine, for reading the figures. */
function load(): string {
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus} CPUs`;
}

function servers(): Server[] {
  const script = join(repo, 'bench/tunnel/outpost-server.sh');
  const harnessDir = dirname(values.harness!);
  const list: Server[] = [
    {
      name: 'outpost',
      label: 'Outpost',
      env: {
        SERVER_CMD: script,
        SERVER_NAME: 'outpost',
        // The harness's DIAG=1 lines read the DTLS pacer's counters here (outpost-server.sh's admin.listen).
        METRICS_URL: 'http://127.0.0.1:9099/metrics',
        ...(tlsMode === '1.2' ? { OUTPOST_TLS_MAX: 'TLSv1.2' } : {}),
      },
    },
  ];
  if (values['ocserv-debian'] === '1')
    list.push({ name: 'ocserv', label: 'ocserv 1.1.6', env: { ...ocservPriorities() } });
  const newest = values['ocserv-new']!;
  if (existsSync(newest)) {
    list.push({
      name: 'ocserv15',
      label: 'ocserv 1.5.0',
      env: {
        SERVER_CMD: `bash ${join(harnessDir, 'ocserv-new-server.sh')}`,
        SERVER_NAME: 'ocserv15',
        PRECREATE_TUN: '0',
        OCSERV_NEW_BIN: newest,
        ...ocservPriorities(),
      },
    });
  } else
    console.log(
      `(${newest} not found: no newest-ocserv comparison; bench/tunnel/harness/build-ocserv-new.sh builds it)`,
    );
  return list;
}

const fixed = (n: number, digits = 2) => n.toFixed(digits);

/** Root and the harness's programs (ocserv only when Debian's is compared), before any setup. */
function checkHarness(): void {
  if (!existsSync(values.harness!)) {
    console.error(`bench:tunnel: harness not found: ${values.harness} (pass --harness PATH)`);
    process.exit(1);
  }
  const withoutOcserv = values['ocserv-debian'] === '1' ? {} : { SERVER_CMD: 'outpost' };
  const check = spawnSync('bash', [values.harness!, 'check'], {
    env: { ...process.env, ...withoutOcserv },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (check.status !== 0) {
    console.error('bench:tunnel: cannot run (the harness said why above)');
    process.exit(1);
  }
}

async function main(): Promise<void> {
  checkHarness();
  const list = servers();
  const results = new Map<string, Result[]>(list.map((s) => [s.name, []]));
  const rounds = Number(values.repeat);
  const loads: string[] = [load()];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? list : [...list].reverse();
    for (const server of order) results.get(server.name)!.push(await runHarness(server));
    loads.push(load());
  }
  const summaries = new Map(list.map((s) => [s.name, summarize(results.get(s.name)!)]));
  for (const server of list) {
    for (const [i, r] of results.get(server.name)!.entries())
      console.log(`round ${i + 1} ${server.label}: ${r.line}`);
  }
  console.log(`machine: ${loads.join(' | ')}`);
  console.log(
    `medians over ${rounds} rounds in ABBA order; Mbit/s, then server CPU-seconds per gigabit (lower is better)`,
  );
  const protocols = new Map(
    list.map((s) => [s.name, [...new Set(results.get(s.name)!.map((r) => shortTls(r.tls)))].join(', ')]),
  );
  console.log(
    `TLS (--tls ${tlsMode}): ${list.map((s) => `${s.label} ${protocols.get(s.name)}`).join('; ')}${
      new Set([...protocols.values()].map((p) => p.split(' ')[0])).size > 1
        ? '  (servers negotiated different protocols: not like for like)'
        : ''
    }`,
  );
  for (const server of list) {
    const s = summaries.get(server.name)!;
    console.log(
      `${server.label.padEnd(13)} ${tests.map((t) => `${t} ${s.mbps[t]}`).join('  ')}  | cpu/Gbit ${tests
        .map((t) => `${t} ${fixed(s.cpuPerGbit[t])}`)
        .join('  ')}  all ${fixed(s.cpuPerGbit.all)}`,
    );
  }
  if (values.dtls) {
    const rcvbuf = values['client-rcvbuf'] ? `${values['client-rcvbuf']} bytes` : 'the host default';
    console.log(`client UDP receive-buffer drops per test (medians; client buffer: ${rcvbuf})`);
    for (const server of list) {
      const s = summaries.get(server.name)!;
      console.log(`${server.label.padEnd(13)} ${tests.map((t) => `${t} ${s.drops[t]}`).join('  ')}`);
    }
  }
  const outpost = summaries.get('outpost')!;
  for (const server of list.filter((s) => s.name !== 'outpost')) {
    const o = summaries.get(server.name)!;
    console.log(
      `Outpost / ${server.label}: ${tests.map((t) => `${t} ${fixed(outpost.mbps[t] / o.mbps[t])}`).join('  ')}  cpu/Gbit ${fixed(
        outpost.cpuPerGbit.all / o.cpuPerGbit.all,
      )}`,
    );
  }
  const newest = list.find((s) => s.name === 'ocserv15') ?? list.find((s) => s.name === 'ocserv');
  if (!newest) return;
  const n = summaries.get(newest.name)!;
  console.log(
    `${values.dtls ? 'tunnel-dtls' : 'tunnel'}: outpost_up=${outpost.mbps['tcp-up']} ocserv_up=${n.mbps['tcp-up']} ratio_up=${fixed(outpost.mbps['tcp-up'] / n.mbps['tcp-up'])} outpost_down=${outpost.mbps['tcp-down']} ocserv_down=${n.mbps['tcp-down']} ratio_down=${fixed(outpost.mbps['tcp-down'] / n.mbps['tcp-down'])} ocserv=${newest.name === 'ocserv15' ? '1.5.0' : '1.1.6'} cpu_ratio=${fixed(outpost.cpuPerGbit.all / n.cpuPerGbit.all)} tls=${tlsMode}${values['client-rcvbuf'] ? ` client_rcvbuf=${values['client-rcvbuf']}` : ''}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
