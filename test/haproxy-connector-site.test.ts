import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliPath, type RunningAppliance, startAppliance } from './testing/appliance.js';
import { certmongerEnroll } from './testing/certmonger.js';
import { type RunningHaproxy, startScepBalancer } from './testing/haproxy.js';
import { requirePeers } from './testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from './testing/postgres.js';
import { openssl, run } from './testing/run.js';
import { type ScepClientRun, scepclient } from './testing/scepclient.js';

requirePeers(
  ...postgresPrograms(),
  'haproxy',
  'scepclient',
  'certmonger',
  'getcert',
  'dbus-run-session',
  'openssl',
);

const BURST = 40;
const CONCURRENCY = 6;
/** The burst's enrollments finished before node B is SIGKILLed. */
const KILL_AFTER = 12;

type Operation = 'GetCACaps' | 'GetCACert' | 'PKIOperation';
type Counts = Record<Operation, number>;

/**
 * Issue 15's site: PostgreSQL 15 and HAProxy 2.6 (HTTP mode, round-robin, health checks on each
 * node's `/readyz`) in front of two connector processes that share one CA (moved with `outpost ca
 * export --pkcs12` / `ca import`) and one inventory. The real scepclient and certmonger enroll
 * through HAProxy, their GetCACaps, GetCACert and PKIOperation spread over both nodes (each node's
 * own outpost_scep_requests_total says which); then node B is SIGKILLed in a burst of scepclient
 * enrollments: every enrollment not in flight at the kill succeeds, an in-flight one succeeds when
 * retried (the same certificate when B had recorded it: RFC 8894 §3.2.1.1 retransmission), each
 * challenge buys exactly one certificate, and serials are unique across the site's inventory.
 */
describe('HAProxy in front of two connectors on one PostgreSQL', () => {
  let db: RunningPostgres;
  let dbUrl: string;
  let a: RunningAppliance;
  let b: RunningAppliance;
  let bKilled = false;
  let proxy: RunningHaproxy;
  let work: string;
  let siteUrl: string;
  let caFile: string;

  beforeAll(async () => {
    db = await startPostgres();
    work = mkdtempSync(join(tmpdir(), 'outpost-consite-'));
    dbUrl = await db.createDatabase('consite');
    const passwordFile = join(work, 'pg-password');
    writeFileSync(passwordFile, `${db.password}\n`, { mode: 0o600 });
    const site = {
      state: { backend: 'postgres', postgres: { url: dbUrl, passwordFile, tls: { mode: 'disable' } } },
      // one process per node: SIGKILL takes the whole node down at once; behind one balancer
      // every client has HAProxy's address, so the per-address rate limit is the site's, off here
      connector: { scep: { workers: 1, limits: { ratePerClientPerMinute: 0 } } },
    };
    a = await startAppliance(site);
    caFile = join(a.dataDir, 'ca', 'ca.pem');

    // B gets A's CA and RA the way an operator moves them: a PKCS#12 file and its password file.
    writeFileSync(join(work, 'p12-password'), 'site transfer password\n', { mode: 0o600 });
    const p12 = join(work, 'ca.p12');
    const exported = await a.cli([
      'ca',
      'export',
      '--pkcs12',
      p12,
      '--password-file',
      join(work, 'p12-password'),
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const bDir = mkdtempSync(join(tmpdir(), 'outpost-test-'));
    const importConfig = join(work, 'b-import.yaml');
    writeFileSync(importConfig, stringify({ dataDir: bDir, roles: ['connector'], log: { level: 'warn' } }));
    const imported = await run(process.execPath, [
      cliPath,
      'ca',
      'import',
      p12,
      '--password-file',
      join(work, 'p12-password'),
      '--config',
      importConfig,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    b = await startAppliance(site, { dataDir: bDir });

    const balancer = await startScepBalancer(
      [
        { name: 'a', ...a },
        { name: 'b', ...b },
      ],
      { checkIntervalMs: 200 },
    );
    proxy = balancer.proxy;
    siteUrl = balancer.url;
  }, 90_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([a?.stop(), bKilled ? rmSync(b.dataDir, { recursive: true, force: true }) : b?.stop()]);
    await db?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('spreads one scepclient enrollment’s GetCACaps, GetCACert and PKIOperation over both nodes', async () => {
    const before = await Promise.all([scepCounts(a), scepCounts(b)]);
    const enrolled = await scepclient(siteUrl, { cn: 'spread-1', challenge: await mint(a) });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
    const [onA, onB] = await deltas(before);
    // Round-robin alternates requests: one enrollment's calls are split, neither node saw all.
    expect(total(onA), JSON.stringify({ onA, onB })).toBeGreaterThan(0);
    expect(total(onB), JSON.stringify({ onA, onB })).toBeGreaterThan(0);
    expect(sum(onA, onB).PKIOperation).toBe(1);

    // A second enrollment starts where the first left off: together every operation on both nodes.
    const second = await scepclient(siteUrl, { cn: 'spread-2', challenge: await mint(b) });
    expect(second.code, second.stderr).toBe(0);
    const [twoA, twoB] = await deltas(before);
    for (const op of ['GetCACert', 'PKIOperation'] as const) {
      expect(twoA[op], JSON.stringify({ twoA, twoB })).toBeGreaterThan(0);
      expect(twoB[op], JSON.stringify({ twoA, twoB })).toBeGreaterThan(0);
    }
  });

  it('certmonger enrolls through HAProxy, its SCEP calls answered by both nodes', async () => {
    const before = await Promise.all([scepCounts(a), scepCounts(b)]);
    const result = await certmongerEnroll({
      scepUrl: siteUrl,
      caFile,
      challenge: await mint(b),
      cn: 'cm-site-device',
    });
    expect(result.list, `${result.stdout}\n${result.stderr}`).toContain('status: MONITORING');
    expect(await openssl(['verify', '-CAfile', caFile, result.certFile])).toContain(': OK');
    const [onA, onB] = await deltas(before);
    expect(total(onA), JSON.stringify({ onA, onB })).toBeGreaterThan(0);
    expect(total(onB), JSON.stringify({ onA, onB })).toBeGreaterThan(0);
    expect(sum(onA, onB).PKIOperation).toBeGreaterThan(0);
  }, 120_000);

  it('answers a retransmitted PKCSReq on the other node with the same certificate; a spent challenge is refused on both', async () => {
    const challenge = await mint(a);
    const first = await scepclient(siteUrl, { cn: 'retransmit', challenge });
    expect(first.code, first.stderr).toBe(0);
    const issued = readFileSync(first.certFile, 'utf8');
    // The same key, subject and challenge again (scepclient derives the transactionID from the
    // key), as a client whose CertRep was lost sends it: three calls later round-robin puts this
    // PKIOperation on the node that did not issue, which finds the certificate in the inventory.
    const [beforeA, beforeB] = await Promise.all([scepCounts(a), scepCounts(b)]);
    rmSync(first.certFile);
    const again = await scepclient(siteUrl, { cn: 'retransmit', challenge, dir: first.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(first.certFile, 'utf8')).toBe(issued);
    const [afterA, afterB] = await Promise.all([scepCounts(a), scepCounts(b)]);
    expect(afterA.PKIOperation - beforeA.PKIOperation + afterB.PKIOperation - beforeB.PKIOperation).toBe(1);
    expect(await ownedBy('retransmit')).toHaveLength(1);

    // Another key with the spent challenge: refused by A and by B alike.
    for (const target of [a, b]) {
      const reused = await scepclient(target.scepUrl, { cn: 'retransmit-other', challenge });
      expect(reused.code).not.toBe(0);
      expect(reused.stdout + reused.stderr).toContain('failInfo: badRequest (2)');
    }
  });

  it('keeps enrolling when node B is SIGKILLed mid-burst: one certificate per challenge, unique serials', async () => {
    // Challenges minted on both nodes, spent wherever HAProxy sends the PKIOperation.
    const challenges = await mapLimit(
      Array.from({ length: BURST }, (_, i) => i),
      4,
      (i) => mint(i % 2 ? a : b),
    );
    const pkiBeforeB = (await scepCounts(b)).PKIOperation;
    let done = 0;
    let killedAt = 0;
    let pkiOnB = 0;
    const runs: { i: number; started: number; ended: number; result: ScepClientRun }[] = [];
    await mapLimit(challenges, CONCURRENCY, async (challenge, i) => {
      const started = performance.now();
      const result = await scepclient(siteUrl, { cn: `burst-${i}`, challenge });
      runs.push({ i, started, ended: performance.now(), result });
      if (++done === KILL_AFTER) {
        pkiOnB = (await scepCounts(b)).PKIOperation - pkiBeforeB;
        process.kill(b.pid, 'SIGKILL');
        bKilled = true;
        killedAt = performance.now();
      }
    });
    expect(killedAt).toBeGreaterThan(0);
    expect(pkiOnB, 'B issued part of the burst before it was killed').toBeGreaterThan(0);
    await proxy.waitForServers(['b'], false);

    // Enrollments that started after the kill, or ended before it, all succeeded; only those
    // running across it may have failed (a request in flight to B), and those succeed when retried.
    const failed = runs.filter((r) => r.result.code !== 0);
    const inFlight = (r: (typeof runs)[number]) => r.started < killedAt && r.ended >= killedAt;
    expect(
      failed.filter((r) => !inFlight(r)).map((r) => `${r.i}: ${r.result.stdout}${r.result.stderr}`),
    ).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(CONCURRENCY);
    console.log(`burst: ${runs.length} runs, ${failed.length} failed at the kill, B issued ${pkiOnB}`);
    for (const r of failed) {
      const retried = await scepclient(siteUrl, {
        cn: `burst-${r.i}`,
        challenge: challenges[r.i]!,
        dir: r.result.dir,
      });
      expect(retried.code, retried.stderr).toBe(0);
    }

    // Exactly one certificate per burst device (a retry that found B's certificate got that one),
    // and it is the one the device holds; serials unique across the site.
    const inventory = await listInventory(a);
    const serials = inventory.map((c) => c.serial);
    expect(new Set(serials).size).toBe(serials.length);
    for (const r of runs) {
      const held = await serialOf(r.result.certFile);
      const owned = inventory.filter((c) => hasCn(c.subject, `burst-${r.i}`));
      expect(
        owned.map((c) => c.serial),
        `burst-${r.i}`,
      ).toEqual([held]);
    }

    // Each challenge was consumed exactly once: none left to spend, none held, on any node.
    const client = new pg.Client({
      host: db.host,
      port: db.port,
      user: db.user,
      password: db.password,
      database: 'consite',
    });
    await client.connect();
    try {
      const left = await client.query('SELECT count(*)::int AS n FROM one_time_challenges');
      const held = await client.query('SELECT count(*)::int AS n FROM challenge_holds');
      expect([left.rows[0].n, held.rows[0].n]).toEqual([0, 0]);
    } finally {
      await client.end();
    }
    const reused = await scepclient(siteUrl, { cn: 'burst-reuse', challenge: challenges[0]! });
    expect(reused.stdout + reused.stderr).toContain('failInfo: badRequest (2)');
  }, 120_000);

  async function deltas(before: Counts[]): Promise<[Counts, Counts]> {
    return [minus(await scepCounts(a), before[0]!), minus(await scepCounts(b), before[1]!)];
  }

  async function ownedBy(cn: string): Promise<string[]> {
    return (await listInventory(a)).filter((c) => hasCn(c.subject, cn)).map((c) => c.serial);
  }
});

async function mint(app: RunningAppliance): Promise<string> {
  const minted = await app.cli(['scep', 'challenge', '--ttl', '600']);
  expect(minted.code, minted.stderr).toBe(0);
  return minted.stdout.trim();
}

/** This node's own count of SCEP requests by operation (its /metrics on the probes port). */
async function scepCounts(app: RunningAppliance): Promise<Counts> {
  const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
  const counts: Counts = { GetCACaps: 0, GetCACert: 0, PKIOperation: 0 };
  for (const m of text.matchAll(/^outpost_scep_requests_total\{([^}]*)\} (\d+)/gm)) {
    const op = /operation="([^"]+)"/.exec(m[1]!)?.[1];
    if (op && op in counts) counts[op as Operation] += Number(m[2]);
  }
  return counts;
}

function minus(x: Counts, y: Counts): Counts {
  return {
    GetCACaps: x.GetCACaps - y.GetCACaps,
    GetCACert: x.GetCACert - y.GetCACert,
    PKIOperation: x.PKIOperation - y.PKIOperation,
  };
}

function sum(x: Counts, y: Counts): Counts {
  return {
    GetCACaps: x.GetCACaps + y.GetCACaps,
    GetCACert: x.GetCACert + y.GetCACert,
    PKIOperation: x.PKIOperation + y.PKIOperation,
  };
}

function total(c: Counts): number {
  return c.GetCACaps + c.GetCACert + c.PKIOperation;
}

async function serialOf(certFile: string): Promise<string> {
  const out = await openssl(['x509', '-in', certFile, '-noout', '-serial']);
  return norm(out.trim().split('=')[1]!);
}

/** Whether the subject's CN is exactly `cn` (RFC 4514 text: `CN=…` then `,` or the end). */
function hasCn(subject: string, cn: string): boolean {
  return subject.split(/,\s*/).includes(`CN=${cn}`);
}

const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');

async function listInventory(app: RunningAppliance): Promise<{ serial: string; subject: string }[]> {
  const out = await app.cli(['certs', 'list', '--json', '--limit', '10000']);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout).map((c: { serialHex: string; subject: string }) => ({
    serial: norm(c.serialHex),
    subject: c.subject,
  }));
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
