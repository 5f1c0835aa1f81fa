import { execFile } from 'node:child_process';
import { constants as cryptoConstants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readPkcs12 } from '../../certs/pkcs12/index.js';
import { cliPath, type RunningAppliance, startAppliance } from '../../test/testing/appliance.js';
import { type RunningCloud, startCloud } from '../../test/testing/cloud.js';
import { rawRsa2048Rate } from './raw-keygen.js';

const execFileAsync = promisify(execFile);

/**
 * `npm run bench:jobs`: PKCS jobs per second end to end — admin API → cloud → link → connector
 * (server-side key, certificate from the built-in CA, PKCS#12, password encrypted to the device)
 * → result back in the cloud — for ECDSA P-256 and RSA-2048, beside the raw RSA-2048 key
 * generation rate of node:crypto alone, measured in the same run with the same parallelism as the
 * appliance's job concurrency. Every result is checked (password decrypts, PFX opens, key matches
 * certificate). Last line: `jobs: p256=… rsa2048=… raw_rsa2048=… ratio_rsa2048=…`.
 */
const { values } = parseArgs({
  options: {
    p256: { type: 'string', default: '400' },
    rsa: { type: 'string', default: '80' },
    raw: { type: 'string', default: '80' },
  },
});
const concurrency = 2 * availableParallelism();

const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const devicePublicKey = device.publicKey.export({ type: 'spki', format: 'pem' }).toString();

async function enrolledAppliance(cloud: RunningCloud): Promise<RunningAppliance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-bench-jobs-'));
  const caFile = join(dataDir, 'cloud-ca.pem');
  writeFileSync(caFile, cloud.caPem);
  const token = await cloud.admin('POST', '/v1/admin/enrollment-tokens', { roles: ['connector'] });
  if (token.status !== 201)
    throw new Error(`enrollment token: ${token.status} ${JSON.stringify(token.body)}`);
  await execFileAsync(process.execPath, [
    cliPath,
    'enroll',
    '--cloud',
    cloud.url,
    '--token',
    token.body.token,
    '--role',
    'connector',
    '--cloud-ca',
    caFile,
    '--data-dir',
    dataDir,
  ]);
  return startAppliance(
    { cloud: { jobConcurrency: concurrency }, connector: { scep: { workers: 1 } }, log: { level: 'warn' } },
    { dataDir },
  );
}

async function waitConnected(cloud: RunningCloud): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const list = await cloud.admin('GET', '/v1/admin/appliances');
    if (list.body.appliances?.some((a: { connected?: boolean }) => a.connected)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the appliance did not connect to the cloud');
}

interface RunResult {
  rate: number;
  failed: number;
}

async function finishedCount(cloud: RunningCloud): Promise<{ done: number; failed: number }> {
  const list = await cloud.admin('GET', '/v1/admin/jobs?limit=1');
  return { done: list.body.counts.done, failed: list.body.counts.failed };
}

/**
 * Posts `count` jobs, then polls the cloud's job counts (one request, not one per job, so the
 * measurement does not load the machine it measures) until all have a result.
 */
async function runJobs(cloud: RunningCloud, keyAlgorithm: string, count: number): Promise<RunResult> {
  const before = await finishedCount(cloud);
  const ids = new Set<string>();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const created = await cloud.admin('POST', '/v1/admin/jobs', {
      kind: 'cert.pkcs.issue',
      target: { role: 'connector' },
      payload: {
        profile: 'device',
        subject: `CN=bench-${keyAlgorithm}-${i},O=Outpost Bench`,
        keyAlgorithm,
        protection: 'modern',
        devicePublicKey,
      },
    });
    if (created.status !== 201)
      throw new Error(`job ${i}: ${created.status} ${JSON.stringify(created.body)}`);
    ids.add(created.body.id);
  }
  const deadline = Date.now() + 30 * 60_000;
  let now = before;
  while (now.done + now.failed - before.done - before.failed < count) {
    if (Date.now() > deadline) throw new Error(`${keyAlgorithm} jobs never finished`);
    await new Promise((r) => setTimeout(r, 100));
    now = await finishedCount(cloud);
  }
  const seconds = (performance.now() - t0) / 1000;
  const done = await cloud.admin('GET', '/v1/admin/jobs?status=done&limit=10000');
  const mine = (
    done.body.jobs as Array<{ id: string; result: { pfx: string; encryptedPassword: string } }>
  ).filter((job) => ids.has(job.id));
  for (const job of mine) check(job.result);
  return { rate: count / seconds, failed: count - mine.length };
}

/** The device's view: decrypt the password with its key, open the PFX, key and certificate match. */
function check(result: { pfx: string; encryptedPassword: string }): void {
  const password = privateDecrypt(
    { key: device.privateKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(result.encryptedPassword, 'base64'),
  ).toString('utf8');
  const opened = readPkcs12(Buffer.from(result.pfx, 'base64'), password);
  if (opened.keys.length !== 1 || opened.certificates.length === 0)
    throw new Error('a PFX without its key or certificate');
}

async function main(): Promise<void> {
  const raw = await rawRsa2048Rate(Number(values.raw), concurrency);
  console.log(`raw node:crypto RSA-2048 keygen, ${concurrency} parallel: ${raw.toFixed(1)} keys/s`);
  const cloud = await startCloud();
  let appliance: RunningAppliance | undefined;
  try {
    appliance = await enrolledAppliance(cloud);
    await waitConnected(cloud);
    await runJobs(cloud, 'ec-p256', 20); // warm-up: JIT, SQLite pages, link established
    const p256 = await runJobs(cloud, 'ec-p256', Number(values.p256));
    console.log(`cert.pkcs.issue ec-p256: ${p256.rate.toFixed(1)} jobs/s (${p256.failed} failed)`);
    const rsa = await runJobs(cloud, 'rsa-2048', Number(values.rsa));
    console.log(`cert.pkcs.issue rsa-2048: ${rsa.rate.toFixed(1)} jobs/s (${rsa.failed} failed)`);
    const rawAfter = await rawRsa2048Rate(Number(values.raw), concurrency);
    console.log(`raw node:crypto RSA-2048 keygen again: ${rawAfter.toFixed(1)} keys/s`);
    const rawMean = (raw + rawAfter) / 2;
    console.log(
      `jobs: p256=${p256.rate.toFixed(1)} rsa2048=${rsa.rate.toFixed(1)} raw_rsa2048=${rawMean.toFixed(1)} ratio_rsa2048=${(rsa.rate / rawMean).toFixed(2)}`,
    );
  } finally {
    await appliance?.stop();
    await cloud.stop();
  }
}

await main();
