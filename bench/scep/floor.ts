import { type ChildProcess, fork } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { openDatabase } from '../../connector/store/database.js';
import { SqliteInventory } from '../../connector/store/inventory.js';
import { startAppliance } from '../../test/testing/appliance.js';
import { requireForBench } from '../needs.js';
import { caCerts } from './ca-certs.js';
import { makeDeviceKeys, type PreparedRequest, prepareRequests } from './client-material.js';
import { FLOOR_RUNGS, type FloorRung, type FloorServerEnv, floorChallenge } from './floor-rungs.js';
import { type LoadResult, runLoad } from './load.js';
import { rsaMsPerEnrollment } from './rsa-cost.js';
import { ServerCpu } from './server-cpu.js';
import { validate } from './validate.js';

/**
 * `npm run bench:scep-floor` (issue 15): how low can server CPU per enrollment go in Node on this
 * machine, and where does the rest go? Runs the rungs of floor-rungs.ts one after the other, each
 * with as many server processes as the appliance runs SCEP workers (one per CPU), connections
 * handed over by this process as scep-dispatch.ts does, driven at concurrency 16 by the bench's
 * load generator with the same precomputed PKCSReq messages, and prints each rung's server CPU
 * (user + system of the server processes from /proc, server-cpu.ts) per request beside
 * `openssl speed`'s cost of the three private operations (rsa-cost.ts). Each rung is warmed up
 * first like bench:scep (V8 keeps optimizing a process's request path for its first thousands of
 * requests, on background threads whose CPU counts). All messages are prepared before the first rung.
 */
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '4000' },
    rungs: { type: 'string', default: FLOOR_RUNGS.join(',') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:scep-floor -- [options]: server CPU per enrollment, rung by rung
  --requests N   timed requests per round (default 3000)
  --rounds N     timed rounds per rung (default 2)
  --warmup N     untimed requests per server process first, each rung (default 4000, as bench:scep)
  --rungs LIST   of ${FLOOR_RUNGS.join(',')} (default all)`);
  process.exit(0);
}
requireForBench('bench:scep-floor', ['openssl']);
const rungs = values.rungs.split(',') as FloorRung[];
for (const rung of rungs) if (!FLOOR_RUNGS.includes(rung)) throw new Error(`unknown rung ${rung}`);
const requestCount = Number(values.requests);
const rounds = Number(values.rounds);
const warmupCount = Number(values.warmup);
const concurrency = 16;
const processes = availableParallelism();

const dir = mkdtempSync(join(tmpdir(), 'outpost-floor-'));
const raCertDer = await makeCa(dir);
const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signed = Buffer.alloc(600, 7);
const keys = await makeDeviceKeys(16);
const prepare = (count: number, label: string) =>
  prepareRequests(keys, count, raCertDer, floorChallenge, `${label}-${Date.now()}`);
// One set of messages serves every rung: each rung starts with empty databases, so every
// transaction id is new to it.
const warmupRequests = prepare(warmupCount * processes, 'warmup');
const roundRequests = Array.from({ length: rounds }, (_, i) => prepare(requestCount, `round${i}`));
const replyBytes = 3703; // the CertRep to these requests (ops rungs print theirs)

/** The built-in CA in `dir`/ca that every server process opens. */
async function makeCa(where: string): Promise<Buffer> {
  const db = openDatabase(':memory:');
  const ca = await BuiltinCa.open({
    dir: join(where, 'ca'),
    keyAlgorithm: 'rsa-2048',
    inventory: new SqliteInventory(db),
  });
  const der = ca.raCertificateDer;
  ca.close();
  db.close();
  return der;
}

async function startServers(rung: FloorRung): Promise<{ url: string; servers: ChildProcess[]; lsn: Server }> {
  const env: FloorServerEnv = {
    rung,
    dir,
    dbName: `${rung}.db`,
    replyBytes,
    devicePublicKeyPem: device.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    signedHex: signed.toString('hex'),
    signatureHex: sign('sha256', signed, device.privateKey).toString('hex'),
  };
  const servers: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    const child = fork(new URL('./floor-server.js', import.meta.url), [], {
      env: { ...process.env, OUTPOST_FLOOR: JSON.stringify(env) },
    });
    await new Promise((resolve) => child.once('message', resolve));
    servers.push(child);
  }
  let turn = 0;
  const lsn = createServer({ pauseOnConnect: true }, (socket) => {
    servers[turn++ % servers.length]!.send('connection', socket);
  });
  await new Promise<void>((resolve) => lsn.listen(0, '127.0.0.1', resolve));
  const { port } = lsn.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/scep`, servers, lsn };
}

async function timed(
  url: string,
  pids: number[],
  requests: PreparedRequest[],
  check?: (l: LoadResult) => void,
) {
  const cpus = pids.map((pid) => new ServerCpu(pid));
  for (const cpu of cpus) cpu.start();
  const load = await runLoad(url, requests, concurrency);
  const seconds = cpus.reduce((sum, cpu) => sum + cpu.stop(), 0);
  if (load.httpErrors > 0) throw new Error(`HTTP errors: ${load.httpErrorReasons.join('; ')}`);
  check?.(load);
  const sizes = load.responses.map((body) => body?.length ?? 0);
  return {
    ms: (seconds / requests.length) * 1000,
    perSecond: load.perSecond,
    p99: load.p99Ms,
    replyBytes: Math.max(...sizes),
  };
}

const results: string[] = [];

function report(rung: FloorRung, r: Awaited<ReturnType<typeof timed>>): number {
  console.log(
    `${rung.padEnd(9)} ${r.ms.toFixed(3)} ms/request  ${r.perSecond.toFixed(0)}/s  p99 ${r.p99.toFixed(1)} ms  reply ${r.replyBytes} B`,
  );
  return r.ms;
}

const mean = (ms: number[]) => (ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(3);

/** The appliance as bench:scep starts it, its own CA, so its own messages; every reply checked. */
async function applianceRung(): Promise<void> {
  const app = await startAppliance({
    log: { level: 'warn' },
    connector: {
      ca: { keyAlgorithm: 'rsa-2048' },
      scep: {
        workers: 'auto',
        challenge: { static: floorChallenge },
        limits: { ratePerClientPerMinute: 0, maxConcurrent: 1024 },
      },
    },
  });
  try {
    const certs = await caCerts(app.scepUrl);
    const mine = (count: number, label: string) =>
      prepareRequests(keys, count, certs[0]!, floorChallenge, `appliance-${label}-${Date.now()}`);
    const warmup = mine(warmupCount * processes, 'warmup');
    const batches = Array.from({ length: rounds }, (_, i) => mine(requestCount, `round${i}`));
    const serials = new Set<string>();
    const checked = (requests: PreparedRequest[]) => (load: LoadResult) => {
      const v = validate(load, requests, certs, serials);
      if (v.failures > 0) throw new Error(`appliance: ${v.failures} failed: ${v.reasons.join('; ')}`);
    };
    await timed(app.scepUrl, [app.pid], warmup, checked(warmup));
    const ms: number[] = [];
    for (const batch of batches)
      ms.push(report('appliance', await timed(app.scepUrl, [app.pid], batch, checked(batch))));
    results.push(`appliance=${mean(ms)}`);
  } finally {
    await app.stop();
  }
}

try {
  for (const rung of rungs) {
    if (rung === 'appliance') {
      await applianceRung();
      continue;
    }
    const { url, servers, lsn } = await startServers(rung);
    const pids = servers.map((s) => s.pid!);
    try {
      await timed(url, pids, warmupRequests);
      const ms: number[] = [];
      for (const batch of roundRequests) {
        ms.push(report(rung, await timed(url, pids, batch)));
      }
      const outcomes = await Promise.all(
        servers.map(
          (s) =>
            new Promise<Record<string, number>>((resolve) => {
              s.once('message', (m) => resolve((m as { outcomes: Record<string, number> }).outcomes));
              s.send('outcomes');
            }),
        ),
      );
      const refused = outcomes.reduce(
        (n, o) =>
          n +
          Object.entries(o)
            .filter(([k]) => k !== 'success')
            .reduce((a, [, v]) => a + v, 0),
        0,
      );
      if (refused > 0)
        throw new Error(
          `${rung}: ${refused} requests were not answered SUCCESS: ${JSON.stringify(outcomes)}`,
        );
      results.push(`${rung.replace('-', '_')}=${mean(ms)}`);
    } finally {
      for (const s of servers) s.kill();
      lsn.close();
    }
  }
  const rsa = rsaMsPerEnrollment();
  console.log(
    `scep-floor: ${results.join(' ')} rsa_ms=${rsa.ms.toFixed(3)} (server ms per request, mean of rounds)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
