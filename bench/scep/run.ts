import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type RunningAppliance, startAppliance } from '../../test/testing/appliance.js';
import { startScepServer } from '../../test/testing/scepserver.js';
import { requireForBench } from '../needs.js';
import {
  type BackendSetup,
  builtinSetup,
  cfsslSetup,
  directorySetup,
  scepUpstreamSetup,
} from './backends.js';
import { caCerts } from './ca-certs.js';
import { type DeviceKey, makeDeviceKeys, prepareRequests } from './client-material.js';
import { type LoadResult, runLoad } from './load.js';
import { prefill } from './prefill.js';
import { rsaMsPerEnrollment } from './rsa-cost.js';
import { ServerCpu } from './server-cpu.js';
import { runSite } from './site.js';
import { type Validation, validate } from './validate.js';

/**
 * `npm run bench:scep`: enrollments/s and latency of Outpost's SCEP server against micromdm
 * scepserver 2.1.0 on this machine in the same run, both with a 2048-bit CA, both fed the same
 * kind of precomputed PKCSReq messages over HTTP POST. Prints a table, then
 * `scep-cpu: ms_per_enrollment=… rsa_ms=… overhead=…`: the CPU (user + system) the Outpost
 * processes (the appliance and its SCEP workers, not this load generator) spent per enrollment at
 * concurrency 16, beside what the three RSA-2048 private-key operations of an enrollment cost
 * per `openssl speed` in the same run (rsa-cost.ts), and their quotient; and last, exactly one
 * summary line `scep: outpost=… scepserver=… ratio=… p99_ms=…` (Outpost at concurrency 16 vs
 * scepserver at concurrency 1, the only level at which scepserver answers correctly). Each
 * freshly started Outpost is warmed up first (--warmup enrollments per SCEP process, untimed).
 */
const { values } = parseArgs({
  allowNegative: true, // --no-backends
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '4000' },
    'scepserver-requests': { type: 'string', default: '500' },
    prefill: { type: 'string', default: '1000000' },
    'backend-requests': { type: 'string', default: '300' },
    backends: { type: 'boolean', default: true },
    'only-backends': { type: 'boolean', default: false },
    keys: { type: 'string', default: '16' },
    // issue 15: the same load through HAProxy to one node on SQLite, one and two on PostgreSQL
    site: { type: 'boolean', default: false },
    // --site while iterating: only these configurations (comma-separated), and the nodes' pool size
    'site-configs': { type: 'string', default: 'sqlite_1,postgres_1,postgres_2' },
    'site-pool': { type: 'string', default: '10' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:scep -- [options]: Outpost's SCEP server against micromdm scepserver
  --requests N            timed enrollments per row (default 2000)
  --warmup N              untimed enrollments per SCEP process of each started node first (default 4000;
                          workers: auto = one process per CPU, so 2 CPUs = 2N per node)
  --prefill N             certificates put in the inventory for a last round (default 1000000; 0 skips)
  --keys N                device keys the requests reuse (default 16)
  --scepserver-requests N scepserver's enrollments at concurrency 1 (default 500)
  --backend-requests N    enrollments per issuance backend (default 300)
  --no-backends           skip the backends' table; --only-backends runs only it
  --site                  issue 15: through HAProxy to one node on SQLite, one and two on PostgreSQL
  --site-configs LIST     with --site: only these of sqlite_1,postgres_1,postgres_2
  --site-pool N           with --site: each node's state.postgres.poolSize (default 10)`);
  process.exit(0);
}
const requestCount = Number(values.requests);
const scepserverCount = Number(values['scepserver-requests']);
const prefillCount = Number(values.prefill);
const challenge = 'bench-challenge-secret';

interface Row {
  server: string;
  load: LoadResult;
  check: Validation;
  /** Server CPU seconds per enrollment during the timed phase, when the server's pid is known. */
  cpuPerEnrollment?: number;
  note?: string;
}

async function measure(
  server: string,
  url: string,
  keys: DeviceKey[],
  count: number,
  concurrency: number,
  serials: Set<string>,
  extra: {
    note?: string;
    /** The subject CN of request i (directory users for the enrichment setup). */
    cnOf?: (i: number) => string;
    /** The server process: its CPU (and its children's) is measured during the timed phase. */
    serverPid?: number;
  } = {},
): Promise<Row> {
  const { note, cnOf, serverPid } = extra;
  const certs = await caCerts(url);
  const requests = prepareRequests(
    keys,
    count,
    certs[0]!,
    challenge,
    `${server}-c${concurrency}-${Date.now()}`,
    cnOf,
  );
  const cpu = serverPid === undefined ? undefined : new ServerCpu(serverPid);
  cpu?.start();
  const load = await runLoad(url, requests, concurrency);
  const cpuSeconds = cpu?.stop();
  const check = validate(load, requests, certs, serials);
  const row: Row = {
    server,
    load,
    check,
    ...(cpuSeconds === undefined ? {} : { cpuPerEnrollment: cpuSeconds / count }),
    ...(note ? { note } : {}),
  };
  printRow(row);
  return row;
}

function printRow({ server, load, check, cpuPerEnrollment, note }: Row): void {
  const cells = [
    server.padEnd(11),
    `c=${String(load.concurrency).padEnd(3)}`,
    `n=${String(load.requests).padEnd(5)}`,
    `${load.perSecond.toFixed(1).padStart(7)} enroll/s`,
    `p50 ${load.p50Ms.toFixed(1).padStart(6)} ms`,
    `p99 ${load.p99Ms.toFixed(1).padStart(6)} ms`,
    `ok ${check.issued}`,
    `failed ${check.failures}`,
    `dup-serials ${check.duplicateSerials}`,
    ...(cpuPerEnrollment === undefined ? [] : [`cpu ${(cpuPerEnrollment * 1000).toFixed(2)} ms/enroll`]),
  ];
  console.log(cells.join('  ') + (note ? `  (${note})` : ''));
  for (const reason of [...load.httpErrorReasons, ...check.reasons]) console.log(`    failure: ${reason}`);
}

async function startOutpost(
  dataDir?: string,
  extra: Record<string, unknown> = {},
): Promise<RunningAppliance> {
  return startAppliance(
    {
      log: { level: 'warn' },
      connector: {
        ca: { keyAlgorithm: 'rsa-2048' },
        scep: {
          workers: 'auto', // one SCEP process per CPU: the figure is the machine's, as before
          challenge: { static: challenge },
          limits: { ratePerClientPerMinute: 0, maxConcurrent: 1024 },
        },
      },
      ...extra,
    },
    dataDir ? { dataDir } : {},
  );
}

async function main(): Promise<void> {
  // micromdm scepserver (and openssl for its depot), and the backends' cfssl and slapd.
  requireForBench('bench:scep', ['scepserver', 'openssl', 'cfssl', 'sqlite3', 'slapd', 'slapadd', 'ldapadd']);
  console.log(`preparing ${values.keys} device keys…`);
  const keys = await makeDeviceKeys(Number(values.keys));
  if (values['only-backends']) return measureBackends(keys);
  if (values.site)
    return runSite({
      keys,
      requests: requestCount,
      concurrency: 16,
      prefill: prefillCount,
      challenge,
      warmup: Number(values.warmup),
      configs: values['site-configs'].split(','),
      poolSize: Number(values['site-pool']),
      startNode: (extra, dataDir) => startOutpost(dataDir, extra),
    });
  const rsa = rsaMsPerEnrollment();
  console.log(
    `openssl speed rsa2048: ${rsa.signPerSecond.toFixed(1)} sign/s per core, ${rsa.ms.toFixed(3)} ms for an enrollment's 3 private-key operations`,
  );
  const outpostSerials = new Set<string>();
  const rows: Row[] = [];

  let outpost = await startOutpost();
  const measureOutpost = (concurrency: number, note?: string, count = requestCount) =>
    measure('outpost', outpost.scepUrl, keys, count, concurrency, outpostSerials, {
      serverPid: outpost.pid,
      ...(note ? { note } : {}),
    });
  // V8 keeps compiling and re-optimizing the request path for the first few thousand
  // enrollments OF EACH PROCESS: server CPU per enrollment falls by about a third meanwhile
  // (workers: auto on 2 cores, c=16, chunks of 1,000 from a fresh start: 2.60, 2.68, 2.82, 2.22,
  // 1.93, 1.94, 1.84, 1.75, 1.79, 1.86, 1.84, 1.82, 1.81, 1.85 ms), and the cluster spreads the
  // connections over its workers, so each got only half of a warm-up sized for one. A fresh
  // appliance first gets --warmup enrollments per SCEP process (workers: auto = one per CPU, as
  // the schema resolves it), checked but in no row of the summary.
  const scepProcesses = Math.min(availableParallelism(), 64);
  const warmUp = async () => {
    const count = Number(values.warmup) * scepProcesses;
    if (count > 0) await measureOutpost(16, 'warm-up, not in the summary', count);
  };
  try {
    await warmUp();
    for (const concurrency of [1, 16, 64]) rows.push(await measureOutpost(concurrency));
    if (prefillCount > 0) {
      const dataDir = outpost.dataDir;
      await outpost.stop({ keepData: true });
      const seconds = await prefill(dataDir, prefillCount);
      console.log(`prefilled the inventory with ${prefillCount} certificates in ${seconds.toFixed(1)} s`);
      outpost = await startOutpost(dataDir);
      await warmUp();
      rows.push(await measureOutpost(16, `${prefillCount} in inventory`));
    }
  } finally {
    await outpost.stop();
  }

  const scepserver = await startScepServer({ caKeyBits: 2048, challenge });
  const scepserverSerials = new Set<string>();
  try {
    rows.push(await measure('scepserver', scepserver.url, keys, scepserverCount, 1, scepserverSerials));
    rows.push(
      await measure('scepserver', scepserver.url, keys, Math.min(scepserverCount, 200), 4, scepserverSerials),
    );
  } finally {
    await scepserver.stop();
  }

  if (values.backends) await measureBackends(keys);

  const ours = rows.find((r) => r.server === 'outpost' && r.load.concurrency === 16)!;
  const theirs = rows.find((r) => r.server === 'scepserver' && r.load.concurrency === 1)!;
  const ratio = ours.load.perSecond / theirs.load.perSecond;
  const cpuMs = ours.cpuPerEnrollment! * 1000;
  console.log(
    `scep-cpu: ms_per_enrollment=${cpuMs.toFixed(3)} rsa_ms=${rsa.ms.toFixed(3)} overhead=${(cpuMs / rsa.ms).toFixed(2)}`,
  );
  console.log(
    `scep: outpost=${ours.load.perSecond.toFixed(1)} scepserver=${theirs.load.perSecond.toFixed(1)} ratio=${ratio.toFixed(2)} p99_ms=${ours.load.p99Ms.toFixed(1)}`,
  );
}

/**
 * What each CA backend and the directory lookup add over the built-in CA, in this run: the same
 * single-process connector and requests at concurrency 1 (latency added per enrollment) and 8
 * (throughput). The upstream SCEP CA only at concurrency 1: micromdm scepserver hands out
 * duplicate serials and failures when asked concurrently (see the scepserver rows above).
 */
async function measureBackends(keys: DeviceKey[]): Promise<void> {
  const count = Number(values['backend-requests']);
  const setups: Array<[() => Promise<BackendSetup>, number[]]> = [
    [() => builtinSetup(challenge), [1, 8]],
    [() => directorySetup(challenge, 64), [1, 8]],
    [() => cfsslSetup(challenge), [1, 8]],
    [() => scepUpstreamSetup(challenge), [1]],
  ];
  const results: Array<{ name: string; concurrency: number; row: Row }> = [];
  console.log('\nbackends (one process, built-in CA vs directory lookup vs on-prem CAs):');
  for (const [start, levels] of setups) {
    const setup = await start();
    try {
      for (const concurrency of levels) {
        const row = await measure(setup.name, setup.app.scepUrl, keys, count, concurrency, new Set(), {
          ...(setup.cnOf ? { cnOf: setup.cnOf } : {}),
        });
        results.push({ name: setup.name, concurrency, row });
      }
    } finally {
      await setup.stop();
    }
  }
  for (const { name, concurrency, row } of results) {
    if (name === 'builtin') continue;
    const base = results.find((r) => r.name === 'builtin' && r.concurrency === concurrency)!.row.load;
    const added = row.load.p50Ms - base.p50Ms;
    console.log(
      `overhead ${name.padEnd(13)} c=${concurrency}: ${added >= 0 ? '+' : ''}${added.toFixed(1)} ms p50 per enrollment, ${(row.load.perSecond / base.perSecond).toFixed(2)}x builtin throughput (${row.load.perSecond.toFixed(1)} vs ${base.perSecond.toFixed(1)} enroll/s)`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
