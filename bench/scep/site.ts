import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { decodeSignedData } from '../../certs/cms/index.js';
import type { RunningAppliance } from '../../test/testing/appliance.js';
import { type RunningHaproxy, startScepBalancer } from '../../test/testing/haproxy.js';
import { type RunningPostgres, startPostgres } from '../../test/testing/postgres.js';
import { requireForBench } from '../needs.js';
import { type DeviceKey, prepareRequests } from './client-material.js';
import { type LoadResult, runLoad } from './load.js';
import { prefill as prefillSqlite } from './prefill.js';
import { ServerCpu } from './server-cpu.js';
import { type Validation, validate } from './validate.js';

/** PostgreSQL's buffer cache for the bench: a quarter of the memory, between 128 MB and 2 GB. */
const SHARED_BUFFERS = `${Math.max(128, Math.min(2048, Math.floor(totalmem() / 4 / 2 ** 20)))}MB`;

/** The three configurations of issue 15's site benchmark, all behind the same HAProxy. */
const SITE_NAMES = ['sqlite_1', 'postgres_1', 'postgres_2'] as const;
type SiteName = (typeof SITE_NAMES)[number];

interface SiteRow {
  name: SiteName;
  load: LoadResult;
  check: Validation;
  /** CPU seconds per enrollment of the connector processes (all nodes, their SCEP workers). */
  nodeCpu: number;
  /** CPU seconds per enrollment of the PostgreSQL server (postmaster and backends); 0 on SQLite. */
  dbCpu: number;
}

export interface SiteOptions {
  keys: DeviceKey[];
  requests: number;
  concurrency: number;
  /** Certificates put in each inventory before a second round of the three (0: no second round). */
  prefill: number;
  challenge: string;
  /** Untimed enrollments per SCEP process each configuration gets first (bench:scep's --warmup). */
  warmup: number;
  /** The configurations to run (--site-configs; all three for the summary line). */
  configs: string[];
  /** state.postgres.poolSize of each node (--site-pool). */
  poolSize: number;
  /** A connector exactly as bench:scep starts it (run.ts), with `extra` config merged over. */
  startNode: (extra: Record<string, unknown>, dataDir: string) => Promise<RunningAppliance>;
}

/**
 * `npm run bench:scep -- --site`: bench:scep's load (precomputed PKCSReq POSTs, concurrency 16)
 * through HAProxy 2.6 (HTTP mode, round-robin, health checks on /readyz, as
 * deploy/haproxy/haproxy.cfg) in front of one connector on SQLite, one on PostgreSQL 15, and two
 * on PostgreSQL sharing one CA. Beside enrollments/s it prints the CPU per enrollment of the
 * connector processes and of PostgreSQL (from /proc, so it survives a loaded machine). With
 * `--prefill N` (default bench:scep's) the three run again with N certificates in the inventory.
 * Last line: `scep-site: sqlite_1=… postgres_1=… postgres_2=… p99_ms=…` (enrollments/s; p99 of the
 * two-node site).
 */
export async function runSite(options: SiteOptions): Promise<void> {
  requireForBench('bench:scep --site', ['haproxy', 'openssl']);
  const unknown = options.configs.filter((c) => !SITE_NAMES.includes(c as SiteName));
  if (unknown.length > 0)
    throw new Error(`--site-configs: unknown ${unknown.join(',')}; known ${SITE_NAMES.join(',')}`);
  // shared_buffers as an operator sizes it (PostgreSQL 15 §20.4.1: a quarter of the memory on a
  // dedicated server), so that the million-certificate inventory's table and indexes (~550 MB)
  // stay in it: at the default 128 MB every lookup and index insert at 1M read leaf pages back
  // from the kernel and the backends wrote dirty pages out themselves to make room.
  const db = await startPostgres({ settings: { shared_buffers: SHARED_BUFFERS } });
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-site-'));
  const passwordFile = join(work, 'pg-password');
  writeFileSync(passwordFile, `${db.password}\n`, { mode: 0o600 });
  const serials = new Set<string>();
  const rounds: Array<{ prefilled: number; rows: SiteRow[] }> = [];
  try {
    // Each node keeps its data directory (its CA) from the empty round to the prefilled one.
    const dir = (name: string) => mkdtempSync(join(work, `${name}-`));
    const [sqliteDir, pg1Dir, pg2aDir, pg2bDir] = ['sqlite', 'pg1', 'pg2a', 'pg2b'].map(dir) as [
      string,
      string,
      string,
      string,
    ];
    const pg1 = pgState(await db.createDatabase('bench_site_1'), passwordFile, options.poolSize);
    const pg2 = pgState(await db.createDatabase('bench_site_2'), passwordFile, options.poolSize);
    const sites: Array<{ name: SiteName; start: () => Promise<RunningAppliance[]> }> = [
      { name: 'sqlite_1', start: async () => [await options.startNode({}, sqliteDir)] },
      { name: 'postgres_1', start: async () => [await options.startNode(pg1, pg1Dir)] },
      {
        name: 'postgres_2',
        start: async () => {
          const a = await options.startNode(pg2, pg2aDir);
          // One CA and one RA: B gets A's (the data directory's ca/, as the README says).
          if (!existsSync(join(pg2bDir, 'ca')))
            cpSync(join(pg2aDir, 'ca'), join(pg2bDir, 'ca'), { recursive: true });
          return [a, await options.startNode(pg2, pg2bDir)];
        },
      },
    ];
    const plan = options.prefill > 0 ? [0, options.prefill] : [0];
    for (const prefilled of plan) {
      if (prefilled > 0) {
        // only the inventories of the configurations that run (a database no node has opened
        // yet has no schema to fill)
        const runs = (name: SiteName) => options.configs.includes(name);
        const seconds = await prefillAll(
          db,
          runs('sqlite_1') ? sqliteDir : undefined,
          [...(runs('postgres_1') ? ['bench_site_1'] : []), ...(runs('postgres_2') ? ['bench_site_2'] : [])],
          prefilled,
        );
        console.log(`prefilled each inventory with ${prefilled} certificates in ${seconds.toFixed(1)} s`);
      }
      const rows: SiteRow[] = [];
      for (const site of sites.filter((s) => options.configs.includes(s.name)))
        rows.push(await measureSite(site.name, site.start, db, options, serials, prefilled));
      rounds.push({ prefilled, rows });
    }
  } finally {
    await db.stop();
    rmSync(work, { recursive: true, force: true });
  }
  for (const { prefilled, rows } of rounds.slice(1))
    console.log(summary(`scep-site-prefill: n=${prefilled} `, rows));
  console.log(summary('scep-site: ', rounds[0]!.rows));
}

function summary(prefix: string, rows: SiteRow[]): string {
  const rate = (name: SiteName) => rows.find((r) => r.name === name)?.load.perSecond.toFixed(1) ?? '-';
  const p99 = rows.find((r) => r.name === 'postgres_2')?.load.p99Ms.toFixed(1) ?? '-';
  return `${prefix}sqlite_1=${rate('sqlite_1')} postgres_1=${rate('postgres_1')} postgres_2=${rate('postgres_2')} p99_ms=${p99}`;
}

function pgState(url: string, passwordFile: string, poolSize: number) {
  return {
    state: { backend: 'postgres', postgres: { url, passwordFile, poolSize, tls: { mode: 'disable' } } },
  };
}

async function measureSite(
  name: SiteName,
  start: () => Promise<RunningAppliance[]>,
  db: RunningPostgres,
  options: SiteOptions,
  serials: Set<string>,
  prefilled: number,
): Promise<SiteRow> {
  const nodes = await start();
  let proxy: RunningHaproxy | undefined;
  try {
    const balancer = await startScepBalancer(nodes.map((node, i) => ({ ...node, name: `node${i}` })));
    proxy = balancer.proxy;
    const url = balancer.url;
    const raCerts = await caCerts(url);
    const requests = prepareRequests(
      options.keys,
      options.requests,
      raCerts[0]!,
      options.challenge,
      `${name}-${prefilled}-${Date.now()}`,
    );
    // Warm-up (not timed), as bench:scep does: V8's and the pool's first requests are not what a
    // site serves all day. --warmup is per SCEP process, as in bench:scep (0311e34): each node runs
    // workers: auto (one per CPU, as the schema resolves it) and HAProxy spreads the requests over
    // the nodes, so two nodes get twice the enrollments and every process the same share.
    const warmupCount = options.warmup * Math.min(availableParallelism(), 64) * nodes.length;
    if (warmupCount > 0) {
      const warm = prepareRequests(
        options.keys,
        warmupCount,
        raCerts[0]!,
        options.challenge,
        `${name}-warm-${Date.now()}`,
      );
      await runLoad(url, warm, options.concurrency);
    }
    const nodeCpu = nodes.map((n) => new ServerCpu(n.pid));
    const dbCpu = name === 'sqlite_1' ? undefined : new ServerCpu(db.pid());
    for (const c of [...nodeCpu, ...(dbCpu ? [dbCpu] : [])]) c.start();
    const load = await runLoad(url, requests, options.concurrency);
    const nodeSeconds = nodeCpu.reduce((sum, c) => sum + c.stop(), 0);
    const dbSeconds = dbCpu?.stop() ?? 0;
    const check = validate(load, requests, raCerts, serials);
    const row: SiteRow = {
      name,
      load,
      check,
      nodeCpu: nodeSeconds / options.requests,
      dbCpu: dbSeconds / options.requests,
    };
    printSiteRow(row, prefilled);
    return row;
  } finally {
    await proxy?.stop();
    await Promise.all(nodes.map((n) => n.stop({ keepData: true })));
  }
}

function printSiteRow({ name, load, check, nodeCpu, dbCpu }: SiteRow, prefilled: number): void {
  console.log(
    [
      name.padEnd(10),
      `inventory+${String(prefilled).padEnd(7)}`,
      `c=${load.concurrency}`,
      `n=${load.requests}`,
      `${load.perSecond.toFixed(1).padStart(7)} enroll/s`,
      `p50 ${load.p50Ms.toFixed(1).padStart(6)} ms`,
      `p99 ${load.p99Ms.toFixed(1).padStart(6)} ms`,
      `ok ${check.issued}`,
      `failed ${check.failures}`,
      `dup-serials ${check.duplicateSerials}`,
      `cpu node ${(nodeCpu * 1000).toFixed(2)} + db ${(dbCpu * 1000).toFixed(2)} ms/enroll`,
    ].join('  '),
  );
  for (const reason of [...load.httpErrorReasons, ...check.reasons]) console.log(`    failure: ${reason}`);
}

async function caCerts(url: string): Promise<Buffer[]> {
  const res = await fetch(`${url}?operation=GetCACert`);
  return decodeSignedData(Buffer.from(await res.arrayBuffer()), { maxBytes: 1 << 20 }).certificates;
}

/**
 * `count` synthetic certificates in the SQLite inventory (prefill.ts, the appliance stopped) and
 * in each PostgreSQL database: one INSERT … SELECT of sorted random serials, as
 * connector/store/testing/prefill.ts builds them for SQLite (rising serials keep the index build
 * an append), with a short placeholder DER.
 */
async function prefillAll(
  db: RunningPostgres,
  sqliteDir: string | undefined,
  databases: string[],
  count: number,
): Promise<number> {
  const started = performance.now();
  if (sqliteDir !== undefined) await prefillSqlite(sqliteDir, count);
  for (const database of databases) {
    const client = new pg.Client({
      host: db.host,
      port: db.port,
      user: db.user,
      password: db.password,
      database,
    });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO certificates
           (serial_hex, subject, sans, profile, requester, transaction_id, not_before, not_after,
            status, thumbprint, der)
         SELECT s.serial, 'CN=device-' || s.i || ',O=Prefill', '[]', 'device', 'prefill',
                'prefill-' || s.serial, now() - interval '1 minute',
                now() + interval '365 days' + s.i * interval '10 milliseconds', 'valid',
                rpad(s.serial, 64, '0'), decode(repeat('30', 64), 'hex')
         FROM (SELECT i, '1' || substr(md5(i::text || random()::text), 2) AS serial
               FROM generate_series(1, $1::int) AS i ORDER BY 2) AS s
         ON CONFLICT (serial_hex) DO NOTHING`,
        [count],
      );
      // What an operator does after a bulk load (PostgreSQL 15 §14.4.9, §25.1): VACUUM sets the
      // visibility map, so lookups may answer from the index alone and no autovacuum pass over a
      // million fresh rows (insert threshold: 1,000 + 20% of the table) lands in the timed phase
      // and its CPU on the enrollments; ANALYZE gives the planner the new row counts.
      await client.query('VACUUM ANALYZE certificates');
    } finally {
      await client.end();
    }
  }
  return (performance.now() - started) / 1000;
}
