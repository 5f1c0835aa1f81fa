import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../link/backoff.js';
import { type ChaosProxy, startChaosProxy } from './testing/chaos-proxy.js';
import { type RunningCloud, startCloud } from './testing/cloud.js';
import {
  connected,
  enrollWithCli,
  journalRows,
  type LinkedAppliance,
  startLinkedAppliance,
  until,
} from './testing/link-appliance.js';

/**
 * Exactly-once under faults (issue 4): 1,000 jobs — PKCS issuances (real keys and certificates),
 * revocations of certificates those jobs issued, and revocations of unknown serials (a final
 * failure is a result too) — while the link is cut at random moments: TCP resets between the
 * two, every byte delayed up to 150 ms, the cloud SIGKILLed and restarted, the appliance
 * SIGKILLed and restarted. Afterwards every job has one result, each issuing job has exactly one
 * certificate in the inventory (the one its result names), and the appliance's journal holds
 * nothing unacked. The faults follow a seeded random sequence, so a failure can be replayed.
 */
const PKCS_JOBS = Number(process.env.OUTPOST_FAULT_PKCS_JOBS ?? 100);
const TOTAL_JOBS = Number(process.env.OUTPOST_FAULT_TOTAL_JOBS ?? 1000);
const SEED = Number(process.env.OUTPOST_FAULT_SEED ?? 20261126);

const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const devicePublicKey = device.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const FAST = { backoff: { baseMs: 100, capMs: 1500 }, pingIntervalSeconds: 2 };

describe('cloud link under faults: 1,000 jobs, each done exactly once', () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-link-faults-'));
  const dataDir = join(work, 'appliance');
  let cloud: RunningCloud;
  let proxy: ChaosProxy;
  let appliance: LinkedAppliance | undefined;
  let applianceId: string;
  const random = seededRandom(SEED);

  afterAll(async () => {
    await appliance?.stop();
    await proxy?.close();
    await cloud?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const startAppliance = () =>
    startLinkedAppliance(dataDir, { url: `https://127.0.0.1:${proxy.port}`, ...FAST });

  /** The admin API talks to the cloud directly; while it is down, try again. */
  async function admin(method: string, path: string, body?: unknown) {
    for (let i = 0; ; i++) {
      const res = await cloud.admin(method, path, body).catch(() => undefined);
      if (res && res.status < 500) return res;
      if (i > 300) throw new Error(`${method} ${path}: cloud not answering`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function post(kind: string, payload: unknown): Promise<string> {
    const res = await admin('POST', '/v1/admin/jobs', { kind, target: { role: 'connector' }, payload });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  }

  /**
   * One fault. Kills come from a fixed schedule tied to the posting of the jobs (so they happen
   * on a fast machine as on a slow one, with jobs in flight); resets also come at random times.
   */
  const kills = { cloud: 0, appliance: 0 };
  async function fault(kind: 'cloud' | 'appliance' | 'reset'): Promise<void> {
    if (kind === 'cloud') {
      kills.cloud++;
      const { dataDir: cloudDir, port } = cloud;
      await cloud.kill();
      await new Promise((r) => setTimeout(r, random() * 1000));
      cloud = await startCloud({ dataDir: cloudDir, port });
    } else if (kind === 'appliance') {
      kills.appliance++;
      await appliance!.kill();
      await new Promise((r) => setTimeout(r, random() * 1000));
      appliance = await startAppliance();
    } else {
      proxy.resetAll();
    }
  }
  /** After each tenth of the posted jobs: three cloud kills, three appliance kills, resets. */
  const schedule: Array<'cloud' | 'appliance' | 'reset'> = [
    'reset',
    'cloud',
    'appliance',
    'reset',
    'appliance',
    'cloud',
    'reset',
    'cloud',
    'appliance',
    'reset',
  ];
  let posted = 0;
  async function postedOne(): Promise<void> {
    posted++;
    const step = Math.floor((posted * schedule.length) / TOTAL_JOBS);
    if ((posted * schedule.length) % TOTAL_JOBS === 0 && step >= 1) await fault(schedule[step - 1]!);
  }

  /** On a failure: where each side stands (job counts, journal states, the appliance's warnings). */
  async function diagnose(): Promise<string> {
    const counts = (await cloud.admin('GET', '/v1/admin/jobs?limit=1').catch(() => undefined))?.body?.counts;
    const states: Record<string, number> = {};
    for (const row of journalRows(dataDir)) states[row.state] = (states[row.state] ?? 0) + 1;
    const warnings = (appliance?.logs() ?? '')
      .split('\n')
      .filter((line) => /"level":(4|5|6)0/.test(line))
      .slice(-20);
    const cloudWarnings = cloud
      .logs()
      .split('\n')
      .filter((line) => /"level":(4|5|6)0/.test(line))
      .slice(-20);
    return JSON.stringify(
      { counts, journal: states, kills, resets: proxy.resets, warnings, cloudWarnings },
      null,
      1,
    );
  }

  it('survives resets, delays and kills of either side', async () => {
    try {
      await scenario();
    } catch (e) {
      console.error(await diagnose());
      throw e;
    }
  }, 1_500_000);

  async function scenario(): Promise<void> {
    cloud = await startCloud();
    proxy = await startChaosProxy(() => cloud.port, { maxDelayMs: 150, random });
    applianceId = (await enrollWithCli(cloud, dataDir)).applianceId;
    appliance = await startAppliance();
    await connected(cloud, applianceId);

    let stop = false;
    const chaos = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 1000 + random() * 3000));
        if (!stop) proxy.resetAll();
      }
    })();

    const pkcs: string[] = [];
    const revokeUnknown: string[] = [];
    for (let i = 0; i < PKCS_JOBS; i++) {
      pkcs.push(
        await post('cert.pkcs.issue', {
          profile: 'device',
          subject: `CN=fault-${i},O=Outpost`,
          keyAlgorithm: 'ec-p256',
          protection: i % 2 ? 'modern' : 'legacy',
          devicePublicKey,
        }),
      );
      await postedOne();
    }
    const unknownCount = TOTAL_JOBS - 2 * PKCS_JOBS;
    for (let i = 0; i < unknownCount; i++) {
      revokeUnknown.push(
        await post('cert.revoke', { serialHex: `7f${(i + 1).toString(16).padStart(30, '0')}` }),
      );
      await postedOne();
    }
    // Revoke what the PKCS jobs issued, as their results come in (still under faults).
    const revokeIssued: string[] = [];
    const serialOf = new Map<string, string>();
    for (const id of pkcs) {
      const job = await until(
        `job ${id}`,
        async () => {
          const res = await admin('GET', `/v1/admin/jobs/${id}`);
          return res.body.status === 'done' || res.body.status === 'failed' ? res.body : undefined;
        },
        600_000,
      );
      expect(job.status, JSON.stringify(job.error)).toBe('done');
      serialOf.set(id, job.result.serialHex);
      revokeIssued.push(await post('cert.revoke', { serialHex: job.result.serialHex, reason: 'superseded' }));
      await postedOne();
    }

    const all = [...pkcs, ...revokeUnknown, ...revokeIssued];
    expect(kills).toEqual({ cloud: 3, appliance: 3 });
    expect(all).toHaveLength(TOTAL_JOBS);
    await until(
      'every job finished',
      async () => {
        const res = await admin('GET', '/v1/admin/jobs?limit=1');
        const { done, failed } = res.body.counts;
        return done + failed >= TOTAL_JOBS ? true : undefined;
      },
      600_000,
    );
    stop = true;
    await chaos;
    await connected(cloud, applianceId);

    const jobs = new Map<string, any>();
    for (const status of ['done', 'failed']) {
      const res = await admin('GET', `/v1/admin/jobs?status=${status}&limit=10000`);
      for (const job of res.body.jobs) jobs.set(job.id, job);
    }
    for (const id of pkcs) expect(jobs.get(id)?.status).toBe('done');
    for (const id of revokeIssued)
      expect(jobs.get(id)?.status, JSON.stringify(jobs.get(id)?.error)).toBe('done');
    for (const id of revokeUnknown) {
      expect(jobs.get(id)).toMatchObject({
        status: 'failed',
        error: { code: 'OUTPOST_ERR_NOT_FOUND', retryable: false },
      });
    }

    // Nothing unacked: every journaled job's result reached the cloud and was acknowledged.
    await until(
      'journal fully delivered',
      async () => (journalRows(dataDir).every((row) => row.state === 'delivered') ? true : undefined),
      60_000,
    );
    const rows = journalRows(dataDir);
    expect(rows).toHaveLength(TOTAL_JOBS);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(all));

    // Exactly one certificate per issuing job, the one its result names, now revoked.
    const db = new Database(join(dataDir, 'outpost.db'), { readonly: true });
    try {
      const perJob = db.prepare('SELECT serial_hex, status FROM certificates WHERE requester = ?');
      for (const id of pkcs) {
        const certs = perJob.all(`job:${id}`) as Array<{ serial_hex: string; status: string }>;
        expect(certs, `job ${id}`).toEqual([{ serial_hex: serialOf.get(id), status: 'revoked' }]);
      }
    } finally {
      db.close();
    }
    console.log(
      `faults: ${proxy.resets} resets, cloud killed ${kills.cloud}x, appliance killed ${kills.appliance}x; ${TOTAL_JOBS} jobs, seed ${SEED}`,
    );
  }
});
