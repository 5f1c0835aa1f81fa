import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChaosProxy, startChaosProxy } from './testing/chaos-proxy.js';
import { type RunningCloud, startCloud } from './testing/cloud.js';
import {
  connected,
  enrollWithCli,
  finishedJob,
  journalRows,
  type LinkedAppliance,
  startLinkedAppliance,
  until,
} from './testing/link-appliance.js';

/**
 * Two connector appliances of one site behind the reference cloud (issue 15): jobs for the site go to
 * either, each runs exactly once. First a burst of PKCS issuances with one appliance SIGKILLed in the
 * middle and started again; then a job offered to an appliance that journals it but vanishes before
 * its acceptance reaches the cloud: the other appliance runs it, and the first, back, is told
 * `job.cancel` and never runs it. "Runs once" is read from the side effects: every issuing job has
 * exactly one certificate across the two inventories, in the inventory of the appliance the cloud
 * names, with the serial its result names.
 */
const SITE = 'site-e2e';
const BURST = Number(process.env.OUTPOST_SITE_JOBS ?? 40);
/** Reconnect fast; the cloud moves a vanished appliance's offers after 2 s. */
const FAST = { backoff: { baseMs: 100, capMs: 1000 }, pingIntervalSeconds: 2 };

const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const devicePublicKey = device.publicKey.export({ type: 'spki', format: 'pem' }) as string;

interface Node {
  name: string;
  dataDir: string;
  applianceId: string;
  proxy: ChaosProxy;
  process: LinkedAppliance | undefined;
}

describe('a site of two connector appliances: each job runs exactly once', () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-link-site-'));
  let cloud: RunningCloud;
  const nodes: Node[] = [];

  afterAll(async () => {
    for (const node of nodes) {
      await node.process?.stop();
      await node.proxy.close();
    }
    await cloud?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const start = async (node: Node) => {
    node.process = await startLinkedAppliance(node.dataDir, {
      url: `https://127.0.0.1:${node.proxy.port}`,
      ...FAST,
    });
    await connected(cloud, node.applianceId);
  };

  async function post(subject: string): Promise<string> {
    const res = await cloud.admin('POST', '/v1/admin/jobs', {
      kind: 'cert.pkcs.issue',
      target: { role: 'connector', site: SITE },
      payload: { profile: 'device', subject, keyAlgorithm: 'ec-p256', protection: 'modern', devicePublicKey },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  }

  /** Certificates issued for `jobId` in a node's inventory (serial, by the job's requester tag). */
  function issued(node: Node, jobId: string): string[] {
    const db = new Database(join(node.dataDir, 'outpost.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT serial_hex FROM certificates WHERE requester = ?').all(`job:${jobId}`);
      return (rows as Array<{ serial_hex: string }>).map((r) => r.serial_hex);
    } finally {
      db.close();
    }
  }

  const row = (node: Node, jobId: string) => journalRows(node.dataDir).find((r) => r.id === jobId);

  /** Each job: done, one certificate in all, held by the appliance the cloud names, its result's serial. */
  async function expectRanOnce(jobIds: string[]): Promise<void> {
    for (const id of jobIds) {
      const job = await finishedJob(cloud, id, 60_000);
      expect(job.status, JSON.stringify(job.error)).toBe('done');
      const owner = nodes.find((n) => n.applianceId === job.applianceId)!;
      const other = nodes.find((n) => n !== owner)!;
      expect(issued(owner, id), `job ${id} on ${owner.name}`).toEqual([job.result.serialHex]);
      expect(issued(other, id), `job ${id} on ${other.name}`).toEqual([]);
      // Journaled wherever it was offered; delivered only where it ran, cancelled or absent elsewhere.
      await until(`job ${id} delivered by ${owner.name}`, async () =>
        row(owner, id)?.state === 'delivered' ? true : undefined,
      );
      await until(`job ${id} not waiting on ${other.name}`, async () =>
        [undefined, 'cancelled'].includes(row(other, id)?.state) ? true : undefined,
      );
    }
  }

  it('survives a SIGKILL of one appliance mid-burst; an offer to a vanished appliance runs on the other', async () => {
    cloud = await startCloud({ args: ['--reassign-grace', '2'] });
    for (const name of ['a', 'b']) {
      const dataDir = join(work, name);
      const proxy = await startChaosProxy(() => cloud.port, { maxDelayMs: 0 });
      const { applianceId } = await enrollWithCli(cloud, dataDir, [], SITE);
      nodes.push({ name, dataDir, applianceId, proxy, process: undefined });
    }
    const [a, b] = nodes as [Node, Node];
    await Promise.all([start(a), start(b)]);
    const site = (await cloud.admin('GET', `/v1/admin/appliances/${a.applianceId}`)).body.site;
    expect(site).toBe(SITE);

    // 1. A burst; a is SIGKILLed halfway through the posting and started again after it.
    const burst: string[] = [];
    for (let i = 0; i < BURST; i++) {
      burst.push(await post(`CN=site-${i},O=Outpost`));
      if (i === Math.floor(BURST / 2)) await a.process!.kill();
    }
    await start(a);
    await expectRanOnce(burst);
    const ranOn = (node: Node) =>
      journalRows(node.dataDir).filter((r) => burst.includes(r.id) && r.state === 'delivered').length;
    console.log(`site burst: ${BURST} jobs, a ran ${ranOn(a)}, b ran ${ranOn(b)}`);
    expect(ranOn(a) + ranOn(b)).toBe(BURST);

    // 2. Neither appliance's words reach the cloud: each is offered one job, journals it and answers
    //    job.accepted into the void. Nothing runs before the cloud's job.start.
    a.proxy.holdUpstream();
    b.proxy.holdUpstream();
    const pair = [await post('CN=vanish-1,O=Outpost'), await post('CN=vanish-2,O=Outpost')];
    const waiting = await until('each appliance journaled one of the two jobs', async () => {
      const onA = pair.filter((id) => row(a, id));
      const onB = pair.filter((id) => row(b, id));
      return onA.length === 1 && onB.length === 1 ? { onA: onA[0]!, onB: onB[0]! } : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(row(a, waiting.onA)).toMatchObject({ state: 'accepted', attempts: 0 });
    expect(issued(a, waiting.onA)).toEqual([]);

    // a vanishes with the job journaled; b's words flow again. After the grace the cloud gives a's
    // job to b, which runs both.
    const logFrom = cloud.logs().length;
    await a.process!.kill();
    a.proxy.releaseUpstream();
    b.proxy.releaseUpstream();
    const moved = await finishedJob(cloud, waiting.onA, 30_000);
    expect(moved.applianceId).toBe(b.applianceId);
    expect((await finishedJob(cloud, waiting.onB)).applianceId).toBe(b.applianceId);

    // a comes back: its journal still holds the job, waiting. The cloud cancels it; a drops it (for
    // good: it is not listed, resumed or run again) and says so.
    await start(a);
    expect(issued(a, waiting.onA), 'a never ran the job it journaled before it vanished').toEqual([]);
    await until('a dropped the job it never started', async () =>
      row(a, waiting.onA)?.state === 'cancelled' ? true : undefined,
    );
    expect(row(a, waiting.onA)?.attempts).toBe(0);
    await a.process!.waitForLog('job cancelled by the cloud');
    await until('the cloud heard job.cancelled', async () =>
      cloud.logs().slice(logFrom).includes('job offer cancelled on the appliance') ? true : undefined,
    );
    await expectRanOnce(pair);
    // Once more after a restart: the cancelled job stays cancelled and never runs.
    await a.process!.stop();
    await start(a);
    await a.process!.waitForLog('link established');
    expect(row(a, waiting.onA)?.state).toBe('cancelled');
    expect(issued(a, waiting.onA)).toEqual([]);

    for (const node of nodes) {
      const open = journalRows(node.dataDir).filter((r) => !['delivered', 'cancelled'].includes(r.state));
      expect(open, `${node.name}'s journal`).toEqual([]);
    }
    expect(cloud.logs()).not.toContain('a cancelled job had started');
  }, 120_000);
});
