import { constants, generateKeyPairSync, privateDecrypt, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosProxy, startChaosProxy } from './testing/chaos-proxy.js';
import { type RunningCloud, startCloud } from './testing/cloud.js';
import {
  cloudPid,
  connected,
  enrollWithCli,
  finishedJob,
  journalRows,
  type LinkedAppliance,
  STATIC_CHALLENGE,
  startLinkedAppliance,
  until,
} from './testing/link-appliance.js';
import { type RunningProxy, startConnectProxy } from './testing/link-proxy.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

/** Reconnect quickly after the faults this file injects; everything else stays at its default. */
const FAST = { backoff: { baseMs: 100, capMs: 1000 }, pingIntervalSeconds: 2 };

const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const devicePublicKey = device.publicKey.export({ type: 'spki', format: 'pem' }) as string;

let cloud: RunningCloud;
let proxy: RunningProxy;
/** A TCP relay between appliance and cloud whose appliance-to-cloud direction the tests can hold. */
let relay: ChaosProxy;
let dataDir: string;
let work: string;
let applianceId: string;
let appliance: LinkedAppliance | undefined;

const pkcsJob = (keyAlgorithm = 'ec-p256', protection = 'modern') => ({
  kind: 'cert.pkcs.issue',
  target: { role: 'connector' },
  payload: { profile: 'device', subject: 'CN=alice,O=Example', keyAlgorithm, protection, devicePublicKey },
});

async function postJob(body: unknown): Promise<string> {
  const res = await cloud.admin('POST', '/v1/admin/jobs', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function restartCloud(mode: 'kill' | 'stop'): Promise<void> {
  const { dataDir: cloudDir, port } = cloud;
  if (mode === 'kill') await cloud.kill();
  else await cloud.stop({ keepData: true });
  cloud = await startCloud({ dataDir: cloudDir, port });
}

/** The device side: decrypt the PFX password (RSA-OAEP-SHA256) and let openssl open the PKCS#12. */
async function verifyPfx(result: { pfx: string; encryptedPassword: string }): Promise<string> {
  const password = privateDecrypt(
    { key: device.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(result.encryptedPassword, 'base64'),
  ).toString('utf8');
  const file = join(work, `pfx-${Date.now()}.p12`);
  writeFileSync(file, Buffer.from(result.pfx, 'base64'));
  return openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', '-info']);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'outpost-link-e2e-'));
  dataDir = join(work, 'appliance');
  cloud = await startCloud();
  proxy = await startConnectProxy({ credentials: 'outpost:proxy-secret' });
  relay = await startChaosProxy(() => cloud.port, { maxDelayMs: 0 });
});

afterAll(async () => {
  await appliance?.stop();
  await cloud?.stop();
  await proxy?.stop();
  await relay?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('cloud link, appliance end (real outpost cloud, outpost enroll, outpost run)', () => {
  it('enrolls with the real CLI: a private key, a certificate openssl verifies against the cloud CA', async () => {
    const enrolled = await enrollWithCli(cloud, dataDir);
    applianceId = enrolled.applianceId;
    expect(enrolled.roles).toEqual(['connector']);
    const link = join(dataDir, 'link');
    expect(statSync(join(link, 'agent.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(link, 'link.json'), 'utf8'))).toMatchObject({
      applianceId,
      cloudUrl: cloud.url,
      roles: ['connector'],
    });
    const verified = await openssl([
      'verify',
      '-CAfile',
      join(cloud.dataDir, 'ca.pem'),
      join(link, 'agent.pem'),
    ]);
    expect(verified).toContain('OK');
    expect(new X509Certificate(readFileSync(join(link, 'agent.pem'))).subject).toContain(applianceId);
    // The token was one-time: enrolling again with it fails, and the existing enrollment stays.
    const again = await run(process.execPath, [
      join(import.meta.dirname, '..', 'dist/container/cli/main.js'),
      'enroll',
      '--cloud',
      cloud.url,
      '--token',
      'not-a-token',
      '--cloud-ca',
      join(cloud.dataDir, 'ca.pem'),
      '--data-dir',
      dataDir,
      '--force',
    ]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('OUTPOST_ERR_UNAUTHORIZED');
    expect(JSON.parse(readFileSync(join(link, 'link.json'), 'utf8')).applianceId).toBe(applianceId);
  });

  it('outpost run connects with no cloud configuration, and a job gets exactly one result', async () => {
    appliance = await startLinkedAppliance(dataDir);
    await connected(cloud, applianceId);
    const jobId = await postJob(pkcsJob('ec-p256', 'modern'));
    const job = await finishedJob(cloud, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe('done');
    expect(await verifyPfx(job.result)).toContain('PKCS7');
    await until('result acked', async () =>
      journalRows(dataDir).find((r) => r.id === jobId)?.state === 'delivered' ? true : undefined,
    );
    expect(journalRows(dataDir).filter((r) => r.id === jobId)).toEqual([
      { id: jobId, kind: 'cert.pkcs.issue', state: 'delivered', attempts: 1 },
    ]);
    // Health arrives as soon as the link is up: the cloud keeps the last report.
    const health = await until('health report', async () => {
      const res = await cloud.admin('GET', `/v1/admin/appliances/${applianceId}`);
      return res.body.lastHealth ?? undefined;
    });
    expect(health.report).toMatchObject({
      agentCertExpiry: new Date(
        new X509Certificate(readFileSync(join(dataDir, 'link', 'agent.pem'))).validTo,
      ).toISOString(),
      caReachable: true,
      sessions: null,
      internalProbe: null,
    });
    expect(health.report.disk.totalBytes).toBeGreaterThan(0);
    expect(health.report.memory.totalBytes).toBeGreaterThan(0);
  });

  it('keeps issuing over SCEP while the cloud is away; a job offered just before runs once the cloud is back; the event is resent', async () => {
    await appliance!.stop();
    // The default ping interval (20 s): a pong held in the relay below must not make the appliance drop
    // the link before the job offer is in; the cloud's SIGKILL closes the link, not a missed pong.
    appliance = await startLinkedAppliance(dataDir, {
      backoff: FAST.backoff,
      url: `https://127.0.0.1:${relay.port}`,
    });
    await connected(cloud, applianceId);
    // The appliance's words are held in the relay from before the offer until the cloud is frozen: the
    // cloud can never read the job.accepted and answer job.start, so the appliance journals the job and
    // waits for the cloud's job.start (it may have gone to another appliance of the site meanwhile).
    relay.holdUpstream();
    const jobId = await postJob({
      kind: 'cert.revoke',
      target: { role: 'connector' },
      payload: { serialHex: '0badc0ffee' },
    });
    await until('job journaled on the appliance', async () =>
      journalRows(dataDir).find((r) => r.id === jobId) ? true : undefined,
    );
    process.kill(cloudPid(cloud.dataDir), 'SIGSTOP');
    // The held job.accepted now lands unread in the frozen cloud's socket buffer, lost with it.
    relay.releaseUpstream();
    // The cloud is gone, the connector is not: SCEP issues (a real scepclient), the appliance is ready,
    // and the issuance event waits in the outbox.
    expect((await fetch(`${appliance.adminUrl}/readyz`)).status).toBe(200);
    const enrolled = await scepclient(appliance.scepUrl, {
      cn: 'device-while-cloud-away',
      challenge: STATIC_CHALLENGE,
    });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const serialHex = new X509Certificate(readFileSync(enrolled.certFile)).serialNumber
      .toLowerCase()
      .replace(/^0+/, '');
    expect(journalRows(dataDir).find((r) => r.id === jobId)).toMatchObject({
      state: 'accepted',
      attempts: 0,
    });
    await restartCloud('kill'); // SIGKILL reaches a stopped process
    // Back: the hello lists the job, the cloud answers job.start, the job runs once.
    const job = await finishedJob(cloud, jobId);
    expect(job).toMatchObject({
      status: 'failed',
      error: { code: 'OUTPOST_ERR_NOT_FOUND', retryable: false },
    });
    await until('result acked', async () =>
      journalRows(dataDir).find((r) => r.id === jobId)?.state === 'delivered' ? true : undefined,
    );
    expect(journalRows(dataDir).find((r) => r.id === jobId)?.attempts).toBe(1);
    const events = await until('the issuance event', async () => {
      const res = await cloud.admin('GET', `/v1/admin/events?applianceId=${applianceId}`);
      const issued = (res.body.events as Array<{ event: { kind: string; serialHex?: string } }>).filter(
        (e) => e.event.kind === 'scep.issued' && e.event.serialHex?.replace(/^0+/, '') === serialHex,
      );
      return issued.length > 0 ? issued : undefined;
    });
    expect(events).toHaveLength(1);
  });

  it('resumes jobs interrupted by SIGKILL and issues exactly one certificate per job', async () => {
    await appliance!.stop();
    appliance = await startLinkedAppliance(dataDir, { ...FAST, jobConcurrency: 1 });
    await connected(cloud, applianceId);
    const ids = [
      await postJob(pkcsJob('rsa-4096', 'legacy')),
      await postJob(pkcsJob('rsa-4096', 'modern')),
      await postJob(pkcsJob('rsa-3072', 'modern')),
    ];
    await until('all jobs journaled', async () => {
      const rows = journalRows(dataDir);
      return ids.every((id) => rows.some((r) => r.id === id)) ? true : undefined;
    });
    // SIGKILL while one of the jobs is running: the appliance is frozen, its journal read, and killed
    // only if the journal says a job is mid-run (else it goes on until the next job has started).
    const running = await until('a job running at the SIGKILL', async () => {
      process.kill(appliance!.pid, 'SIGSTOP');
      let rows: ReturnType<typeof journalRows> = [];
      try {
        rows = journalRows(dataDir).filter((r) => ids.includes(r.id) && r.state === 'running');
      } finally {
        if (rows.length === 0) process.kill(appliance!.pid, 'SIGCONT');
      }
      return rows.length > 0 ? rows : undefined;
    });
    await appliance.kill();
    expect(running).toHaveLength(1); // one job runs at a time (jobConcurrency 1)
    appliance = await startLinkedAppliance(dataDir, { ...FAST, jobConcurrency: 1 });
    await appliance.waitForLog('resuming journaled jobs');
    const jobs = await Promise.all(ids.map((id) => finishedJob(cloud, id, 90_000)));
    for (const job of jobs) expect(job.status, JSON.stringify(job.error)).toBe('done');
    expect(new Set(jobs.map((j) => j.result.serialHex)).size).toBe(3);
    for (const job of jobs) expect(await verifyPfx(job.result)).toContain('PKCS7');
    const inventory = await run(process.execPath, [
      join(import.meta.dirname, '..', 'dist/container/cli/main.js'),
      'certs',
      'list',
      '--json',
      '--limit',
      '1000',
      '--config',
      join(dataDir, 'outpost.yaml'),
    ]);
    const records = JSON.parse(inventory.stdout) as Array<{ requester: string }>;
    for (const id of ids) expect(records.filter((r) => r.requester === `job:${id}`)).toHaveLength(1);
    await until('all results acked', async () => {
      const rows = journalRows(dataDir).filter((r) => ids.includes(r.id));
      return rows.every((r) => r.state === 'delivered') ? true : undefined;
    });
  });

  it('renews the agent certificate over the link with a new key, and reconnects with it', async () => {
    const link = join(dataDir, 'link');
    const before = {
      cert: readFileSync(join(link, 'agent.pem'), 'utf8'),
      key: readFileSync(join(link, 'agent.key'), 'utf8'),
    };
    await appliance!.stop();
    appliance = await startLinkedAppliance(dataDir, { ...FAST, renewAtFraction: 0 });
    await appliance.waitForLog('agent certificate renewed');
    const after = {
      cert: readFileSync(join(link, 'agent.pem'), 'utf8'),
      key: readFileSync(join(link, 'agent.key'), 'utf8'),
    };
    expect(after.key).not.toBe(before.key);
    expect(new X509Certificate(after.cert).serialNumber).not.toBe(
      new X509Certificate(before.cert).serialNumber,
    );
    expect(new X509Certificate(after.cert).subject).toBe(new X509Certificate(before.cert).subject);
    expect(statSync(join(link, 'agent.key')).mode & 0o777).toBe(0o600);
    expect(
      await openssl(['verify', '-CAfile', join(cloud.dataDir, 'ca.pem'), join(link, 'agent.pem')]),
    ).toContain('OK');
    expect(await openssl(['pkey', '-in', join(link, 'agent.key'), '-pubout'])).toBe(
      await openssl(['x509', '-in', join(link, 'agent.pem'), '-pubkey', '-noout']),
    );
    // The next connection presents the new certificate: the cloud (restarted) accepts it.
    await appliance.stop();
    await restartCloud('stop');
    appliance = await startLinkedAppliance(dataDir, FAST);
    await connected(cloud, applianceId);
  });

  it('connects through an HTTP CONNECT proxy with credentials, and jobs flow through it', async () => {
    await appliance!.stop();
    const before = proxy.connects.length;
    // The internal network probe fetches a URL inside the network: here the proxy's own port (405 is an answer).
    const probeUrl = `http://127.0.0.1:${new URL(proxy.url).port}/`;
    appliance = await startLinkedAppliance(dataDir, { ...FAST, proxy: proxy.url, health: { probeUrl } });
    await connected(cloud, applianceId);
    expect(proxy.connects.slice(before)).toContain(`127.0.0.1:${cloud.port}`);
    const jobId = await postJob(pkcsJob('ec-p256', 'legacy'));
    const job = await finishedJob(cloud, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe('done');
    expect(await verifyPfx(job.result)).toContain('PKCS7');
    expect(appliance.logs()).not.toContain('proxy-secret');
    const health = await until('health with the probe', async () => {
      const res = await cloud.admin('GET', `/v1/admin/appliances/${applianceId}`);
      return res.body.lastHealth?.report.internalProbe ? res.body.lastHealth : undefined;
    });
    expect(health.report.internalProbe).toMatchObject({ url: probeUrl, ok: true });
    expect(health.report.linkLatencyMs === null || health.report.linkLatencyMs >= 0).toBe(true);
  });
});
