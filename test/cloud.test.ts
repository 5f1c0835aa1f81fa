import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, parseCertificate, randomSerial } from '../certs/certificate.js';
import { generateKeyPair, keyPairSigner, loadPrivateKey, privateKeyToPem, spkiDer } from '../certs/keys.js';
import { firstDer, toPem } from '../certs/pem.js';
import { JwsChallengeVerifier } from '../connector/issuance/challenge/jws-challenge.js';
import { MemoryChallengeStore } from '../connector/issuance/challenge/testing/memory-challenge-store.js';
import { TokenAuthenticator } from '../gateway/auth/token-authenticator.js';
import { LinkLimits } from '../link/schema/index.js';
import {
  type EnrolledAppliance,
  enroll,
  LinkClient,
  makeCsr,
  type RunningCloud,
  startCloud,
} from './testing/cloud.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';

requirePeers('openssl');

// The reference control plane as a real process (`outpost cloud` from dist/: run `npm run build`),
// spoken to over HTTPS and a `ws` client holding an enrolled certificate; openssl checks every certificate.

let cloud: RunningCloud;
let work: string;

beforeAll(async () => {
  // Ping every second so that the liveness test sees a dead socket cut; reassign at once (grace 0).
  cloud = await startCloud({ args: ['--ping-interval', '1', '--reassign-grace', '0'] });
  work = mkdtempSync(join(tmpdir(), 'outpost-cloud-test-'));
});

afterAll(async () => {
  await cloud?.stop();
});

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** Connects, says hello, reads welcome + jwks. */
async function helloLink(a: EnrolledAppliance, extra: Record<string, unknown> = {}): Promise<LinkClient> {
  const link = await LinkClient.connect(cloud, a);
  link.hello(a.applianceId, extra);
  const welcome = await link.next('welcome');
  expect(welcome.applianceId).toBe(a.applianceId);
  await link.next('jwks');
  return link;
}

describe('outpost cloud: data directory', () => {
  it('writes its CA, keys 0600 and the admin token 0600', () => {
    for (const name of ['ca.key', 'server.key', 'signing-key.pem', 'admin-token']) {
      expect(statSync(join(cloud.dataDir, name)).mode & 0o777, name).toBe(0o600);
    }
    expect(cloud.caPem).toContain('BEGIN CERTIFICATE');
  });

  it('serves HTTPS with a certificate for 127.0.0.1 and localhost issued by ca.pem', async () => {
    const server = readFileSync(join(cloud.dataDir, 'server.pem'), 'utf8');
    const ca = file('ca.pem', cloud.caPem);
    const out = await openssl(['verify', '-CAfile', ca, '-purpose', 'sslserver', file('server.pem', server)]);
    expect(out).toContain('OK');
    const text = await openssl([
      'x509',
      '-in',
      join(cloud.dataDir, 'server.pem'),
      '-noout',
      '-ext',
      'subjectAltName',
    ]);
    expect(text).toContain('DNS:localhost');
    expect(text).toContain('IP Address:127.0.0.1');
  });
});

describe('enrollment', () => {
  it('refuses the admin API without the admin token', async () => {
    expect((await cloud.http('POST', '/v1/admin/enrollment-tokens', {})).status).toBe(401);
    expect((await cloud.http('GET', '/v1/admin/appliances', undefined)).status).toBe(401);
  });

  it('enrolls with a one-time token: client certificate CN = appliance id, clientAuth, verifies with openssl', async () => {
    const a = await enroll(cloud, ['connector']);
    const ca = file('ca.pem', cloud.caPem);
    const cert = file(`${a.applianceId}.pem`, a.certPem);
    expect(await openssl(['verify', '-CAfile', ca, '-purpose', 'sslclient', cert])).toContain('OK');
    const subject = await openssl(['x509', '-in', cert, '-noout', '-subject', '-ext', 'extendedKeyUsage']);
    expect(subject).toMatch(new RegExp(`CN ?= ?${a.applianceId}`));
    expect(subject).toContain('TLS Web Client Authentication');
    const parsed = parseCertificate(firstDer(a.certPem, 'CERTIFICATE'));
    const days = (parsed.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
    expect(a.chain).toEqual([cloud.caPem]);
  });

  it('refuses a wrong, a replayed and an expired token with 401', async () => {
    const { csrPem } = await makeCsr();
    const created = (await cloud.admin('POST', '/v1/admin/enrollment-tokens', { ttlSeconds: 600 })).body;
    const wrong = `${created.id}.${'A'.repeat(43)}`;
    expect(
      (await cloud.http('POST', '/v1/enroll', { token: wrong, csr: csrPem, roles: ['gateway'] })).status,
    ).toBe(401);
    expect(
      (await cloud.http('POST', '/v1/enroll', { token: 'garbage', csr: csrPem, roles: ['gateway'] })).status,
    ).toBe(401);
    const first = await cloud.http('POST', '/v1/enroll', {
      token: created.token,
      csr: csrPem,
      roles: ['gateway'],
    });
    expect(first.status).toBe(201);
    const replay = await cloud.http('POST', '/v1/enroll', {
      token: created.token,
      csr: csrPem,
      roles: ['gateway'],
    });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('OUTPOST_ERR_UNAUTHORIZED');

    const short = (await cloud.admin('POST', '/v1/admin/enrollment-tokens', { ttlSeconds: 1 })).body;
    await new Promise((r) => setTimeout(r, 1500));
    const expired = await cloud.http('POST', '/v1/enroll', {
      token: short.token,
      csr: csrPem,
      roles: ['gateway'],
    });
    expect(expired.status).toBe(401);
  });

  it('refuses a CSR whose signature does not verify, and roles the token does not allow', async () => {
    const { csrPem } = await makeCsr();
    const der = firstDer(csrPem, 'CERTIFICATE REQUEST');
    der[der.length - 1]! ^= 0x01;
    const token = (await cloud.admin('POST', '/v1/admin/enrollment-tokens', { roles: ['gateway'] })).body
      .token;
    const bad = await cloud.http('POST', '/v1/enroll', {
      token,
      csr: toPem('CERTIFICATE REQUEST', der),
      roles: ['gateway'],
    });
    expect(bad.status).toBe(400);
    const role = await cloud.http('POST', '/v1/enroll', { token, csr: csrPem, roles: ['connector'] });
    expect(role.status).toBe(401);
    // Neither refusal spent the token.
    expect((await cloud.http('POST', '/v1/enroll', { token, csr: csrPem, roles: ['gateway'] })).status).toBe(
      201,
    );
  });
});

describe('link authentication', () => {
  let appliance: EnrolledAppliance;
  beforeAll(async () => {
    appliance = await enroll(cloud);
  });

  it('refuses an upgrade without a client certificate', async () => {
    await expect(LinkClient.connect(cloud)).rejects.toThrow('refused: 401');
  });

  it('refuses a certificate from another CA, even one naming an enrolled appliance under a look-alike CA', async () => {
    const caKeys = await generateKeyPair('ec-p256');
    const now = new Date();
    const foreignCa = buildCertificate(
      {
        subject: 'CN=Outpost Cloud CA',
        spkiDer: spkiDer(caKeys.publicKey),
        serial: randomSerial(),
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 86_400_000),
        isCa: true,
        keyUsage: ['keyCertSign', 'cRLSign'],
        eku: [],
      },
      keyPairSigner(caKeys),
      'sha256',
    );
    const leafKeys = await generateKeyPair('ec-p256');
    const leaf = buildCertificate(
      {
        subject: `CN=${appliance.applianceId}`,
        spkiDer: spkiDer(leafKeys.publicKey),
        issuer: foreignCa,
        serial: randomSerial(),
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 86_400_000),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      keyPairSigner(caKeys),
      'sha256',
    );
    const identity = { certPem: toPem('CERTIFICATE', leaf), keyPem: privateKeyToPem(leafKeys.privateKey) };
    await expect(LinkClient.connect(cloud, identity)).rejects.toThrow('refused: 401');
  });

  it('refuses an expired certificate issued by the cloud CA itself', async () => {
    const caKey = loadPrivateKey(readFileSync(join(cloud.dataDir, 'ca.key')));
    const leafKeys = await generateKeyPair('ec-p256');
    const now = Date.now();
    const der = buildCertificate(
      {
        subject: `CN=${appliance.applianceId}`,
        spkiDer: spkiDer(leafKeys.publicKey),
        issuer: firstDer(cloud.caPem, 'CERTIFICATE'),
        serial: randomSerial(),
        notBefore: new Date(now - 2 * 86_400_000),
        notAfter: new Date(now - 86_400_000),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      keyPairSigner(caKey),
      'sha256',
    );
    const identity = { certPem: toPem('CERTIFICATE', der), keyPem: privateKeyToPem(leafKeys.privateKey) };
    await expect(LinkClient.connect(cloud, identity)).rejects.toThrow('refused: 401');
  });

  it('answers hello with welcome then the JWKS published at /.well-known/jwks.json', async () => {
    const link = await LinkClient.connect(cloud, appliance);
    link.hello(appliance.applianceId);
    const welcome = await link.next('welcome');
    expect(Math.abs(Date.parse(welcome.serverTime) - Date.now())).toBeLessThan(60_000);
    const jwks = await link.next('jwks');
    const published = await cloud.http('GET', '/.well-known/jwks.json');
    expect(jwks.keys).toEqual(published.body.keys);
    expect(jwks.issuer).toBe(cloud.url);
    await link.close();
  });

  it('refuses a hello naming another appliance and closes (1008)', async () => {
    const link = await LinkClient.connect(cloud, appliance);
    const ref = link.hello('someone-else');
    const error = await link.next('error');
    expect(error).toMatchObject({ ref, code: 'OUTPOST_ERR_UNAUTHORIZED' });
    expect(await link.closed).toBe(1008);
  });

  it('cuts a socket that stops answering pings', async () => {
    const link = await LinkClient.connect(cloud, appliance);
    link.hello(appliance.applianceId);
    await link.next('welcome');
    // Stop reading: pings are no longer seen, so no pong goes back, and the cloud terminates the socket.
    const socket = (link.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    while (!cloud.logs().includes('link dead (no pong)')) await new Promise((r) => setTimeout(r, 100));
    socket.resume();
    expect(await link.closed).toBe(1006);
  });

  it('refuses a revoked appliance and closes its live link', async () => {
    const victim = await enroll(cloud);
    const link = await helloLink(victim);
    expect((await cloud.admin('POST', `/v1/admin/appliances/${victim.applianceId}/revoke`)).status).toBe(200);
    expect(await link.closed).toBe(4003);
    await expect(LinkClient.connect(cloud, victim)).rejects.toThrow('refused: 403');
  });
});

describe('bad messages', () => {
  let appliance: EnrolledAppliance;
  let link: LinkClient;
  beforeAll(async () => {
    appliance = await enroll(cloud);
    link = await LinkClient.connect(cloud, appliance);
  });
  afterAll(async () => {
    await link.close();
  });

  it('answers out-of-order, malformed, unknown-type and invalid messages with error and stays usable', async () => {
    const early = link.send({ type: 'job.accepted', jobId: 'x' });
    expect(await link.next('error')).toMatchObject({ ref: early, reason: 'out-of-order' });

    link.hello(appliance.applianceId);
    await link.next('welcome');
    await link.next('jwks');

    const again = link.hello(appliance.applianceId);
    expect(await link.next('error')).toMatchObject({ ref: again, reason: 'out-of-order' });

    link.sendRaw('{not json');
    expect(await link.next('error')).toMatchObject({ code: 'OUTPOST_ERR_DECODE', reason: 'malformed' });

    const unknown = link.send({ type: 'reboot' });
    expect(await link.next('error')).toMatchObject({ ref: unknown, reason: 'unknown-type' });

    const wrongSide = link.send({ type: 'welcome', applianceId: 'x', serverTime: new Date().toISOString() });
    expect(await link.next('error')).toMatchObject({ ref: wrongSide, reason: 'unknown-type' });

    const invalid = link.send({ type: 'job.result', jobId: 'j', status: 'failed' });
    const error = await link.next('error');
    expect(error).toMatchObject({ ref: invalid, reason: 'invalid' });
    expect(error.message).toContain('error');

    const noJob = link.send({ type: 'job.result', jobId: 'no-such-job', status: 'done', result: {} });
    expect(await link.next('error')).toMatchObject({ ref: noJob, code: 'OUTPOST_ERR_NOT_FOUND' });

    // Still usable: a health report is stored and acked.
    const health = link.send({ type: 'health', report: healthReport() });
    expect(await link.next('ack')).toMatchObject({ ref: health });
    const list = await cloud.admin('GET', '/v1/admin/appliances');
    const me = list.body.appliances.find((x: { id: string }) => x.id === appliance.applianceId);
    expect(me).toMatchObject({ connected: true, roles: ['gateway', 'connector'], version: '0.1.0-test' });
    expect(me.lastHealth.report.sessions).toBe(3);
  });

  it('closes the socket (1009) on a frame over the size limit: it cannot be answered', async () => {
    const other = await helloLink(await enroll(cloud));
    other.sendRaw(Buffer.alloc(LinkLimits.maxMessageBytes + 1, 0x20));
    expect(await other.closed).toBe(1009);
  });
});

function healthReport() {
  return {
    cpu: { usagePercent: 5, loadAverage1m: 0.1, cores: 2 },
    memory: { usedBytes: 100, totalBytes: 200, rssBytes: 50 },
    disk: { path: '/var/lib/outpost', freeBytes: 10, totalBytes: 20 },
    linkLatencyMs: 2,
    tlsCertExpiry: null,
    agentCertExpiry: new Date(Date.now() + 86_400_000).toISOString(),
    sessions: 3,
    throughput: null,
    internalProbe: { url: 'http://intranet.corp.test/', ok: true, ms: 4 },
    caReachable: true,
    version: '0.1.0-test',
  };
}

describe('jobs', () => {
  it('validates the job request: unknown kind, bad payload, wrong role → 400 with the reason', async () => {
    const gateway = await enroll(cloud, ['gateway']);
    const cases = [
      [{ kind: 'disk.wipe', target: { role: 'gateway' }, payload: {} }, 'unknown job kind'],
      [{ kind: 'session.revoke', target: { role: 'gateway' }, payload: {} }, 'user or device'],
      [{ kind: 'session.revoke', target: { role: 'connector' }, payload: { user: 'a' } }, 'gateway job'],
      [
        { kind: 'cert.revoke', target: { applianceId: gateway.applianceId }, payload: { serialHex: '01' } },
        'no connector role',
      ],
      [{ kind: 'cert.revoke', target: { role: 'connector' }, payload: { serialHex: 'xyz' } }, 'serialHex'],
      [{ kind: 'session.revoke', target: { applianceId: 'nobody' }, payload: { user: 'a' } }, 'not enrolled'],
    ] as const;
    for (const [body, reason] of cases) {
      const res = await cloud.admin('POST', '/v1/admin/jobs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(reason);
    }
    expect((await cloud.admin('GET', '/v1/admin/jobs/nope')).status).toBe(404);
  });

  it('job → job.accepted → job.start (running) → job.result → ack → done; a duplicate result is acked and ignored', async () => {
    const a = await enroll(cloud, ['gateway']);
    const link = await helloLink(a, { roles: ['gateway'] });
    const created = await cloud.admin('POST', '/v1/admin/jobs', {
      kind: 'session.revoke',
      target: { applianceId: a.applianceId },
      payload: { user: 'alice' },
    });
    expect(created.status).toBe(201);
    const { id } = created.body;
    expect((await cloud.admin('GET', `/v1/admin/jobs/${id}`)).body).toEqual({
      id,
      kind: 'session.revoke',
      status: 'pending',
    });
    const offered = await link.next('job');
    expect(offered.job).toMatchObject({ id, kind: 'session.revoke', payload: { user: 'alice' } });

    link.send({ type: 'job.accepted', jobId: id });
    expect(await link.next('job.start')).toMatchObject({ jobId: id });
    const ref = link.send({ type: 'job.result', jobId: id, status: 'done', result: { disconnected: 2 } });
    expect(await link.next('ack')).toMatchObject({ ref, jobId: id });
    expect((await cloud.admin('GET', `/v1/admin/jobs/${id}`)).body).toEqual({
      id,
      kind: 'session.revoke',
      status: 'done',
      result: { disconnected: 2 },
      applianceId: a.applianceId,
    });

    const dup = link.send({ type: 'job.result', jobId: id, status: 'done', result: { disconnected: 7 } });
    expect(await link.next('ack')).toMatchObject({ ref: dup, jobId: id });
    expect((await cloud.admin('GET', `/v1/admin/jobs/${id}`)).body.result).toEqual({ disconnected: 2 });
    await link.close();
  });

  it('a failed job reads back with its error; a done result off its schema is recorded as failed', async () => {
    const a = await enroll(cloud, ['gateway']);
    const link = await helloLink(a, { roles: ['gateway'] });
    const submit = async () =>
      (
        await cloud.admin('POST', '/v1/admin/jobs', {
          kind: 'session.revoke',
          target: { applianceId: a.applianceId },
          payload: { device: 'dev-1' },
        })
      ).body.id as string;
    const failedId = await submit();
    await link.next('job');
    const error = { code: 'OUTPOST_ERR_UNAVAILABLE', retryable: true, message: 'gateway role not running' };
    link.send({ type: 'job.result', jobId: failedId, status: 'failed', error });
    await link.next('ack');
    expect((await cloud.admin('GET', `/v1/admin/jobs/${failedId}`)).body).toMatchObject({
      status: 'failed',
      error,
    });

    const badId = await submit();
    await link.next('job');
    link.send({ type: 'job.result', jobId: badId, status: 'done', result: { disconnected: -1 } });
    await link.next('ack');
    const bad = (await cloud.admin('GET', `/v1/admin/jobs/${badId}`)).body;
    expect(bad).toMatchObject({
      status: 'failed',
      error: { code: 'OUTPOST_ERR_INTERNAL', retryable: false },
    });
    await link.close();
  });

  it('redelivers a job not accepted before a reconnect; an accepted one is not offered again and its result is taken after reconnect', async () => {
    const a = await enroll(cloud, ['gateway']);
    let link = await helloLink(a, { roles: ['gateway'] });
    const post = async (user: string) =>
      (
        await cloud.admin('POST', '/v1/admin/jobs', {
          kind: 'session.revoke',
          target: { applianceId: a.applianceId },
          payload: { user },
        })
      ).body.id as string;
    const unaccepted = await post('bob');
    expect((await link.next('job')).job.id).toBe(unaccepted);
    await link.close();

    link = await helloLink(a, { roles: ['gateway'] });
    expect((await link.next('job')).job.id).toBe(unaccepted);
    link.send({ type: 'job.accepted', jobId: unaccepted });
    expect(await link.next('job.start')).toMatchObject({ jobId: unaccepted });
    expect((await cloud.admin('GET', `/v1/admin/jobs/${unaccepted}`)).body.status).toBe('running');
    await link.close();

    // Reconnect listing it as journaled: it is not offered again, only started again (its job.start
    // may have been lost too); the result (resent) is stored and acked.
    link = await helloLink(a, { roles: ['gateway'], pendingResults: [unaccepted] });
    expect(await link.next('job.start')).toMatchObject({ jobId: unaccepted });
    const ref = link.send({
      type: 'job.result',
      jobId: unaccepted,
      status: 'done',
      result: { disconnected: 1 },
    });
    expect(await link.next('ack')).toMatchObject({ ref, jobId: unaccepted });
    expect(link.messages).toEqual([]);
    expect((await cloud.admin('GET', `/v1/admin/jobs/${unaccepted}`)).body.status).toBe('done');
    await link.close();
  });

  it('a hello listing a job whose job.accepted was lost keeps it on that appliance', async () => {
    const a = await enroll(cloud, ['gateway']);
    let link = await helloLink(a, { roles: ['gateway'] });
    const id = (
      await cloud.admin('POST', '/v1/admin/jobs', {
        kind: 'session.revoke',
        target: { applianceId: a.applianceId },
        payload: { user: 'carol' },
      })
    ).body.id as string;
    await link.next('job');
    await link.close(); // job.accepted "lost"
    link = await helloLink(a, { roles: ['gateway'], pendingResults: [id] });
    expect(await link.next('job.start')).toMatchObject({ jobId: id });
    link.send({ type: 'health', report: healthReport() });
    await link.next('ack');
    expect(link.messages).toEqual([]);
    expect((await cloud.admin('GET', `/v1/admin/jobs/${id}`)).body.status).toBe('running');
    await link.close();
  });

  it('offers a role job to one appliance at a time, reassigns it when that one leaves without accepting, and cancels it there', async () => {
    // A role no other test connects with: only these two are candidates.
    const first = await enroll(cloud, ['connector']);
    const second = await enroll(cloud, ['connector']);
    const l1 = await helloLink(first, { roles: ['connector'] });
    const l2 = await helloLink(second, { roles: ['connector'] });
    const id = (
      await cloud.admin('POST', '/v1/admin/jobs', {
        kind: 'cert.revoke',
        target: { role: 'connector' },
        payload: { issuer: 'CN=x', serialHex: '01' },
      })
    ).body.id as string;
    // Exactly one of them is offered it.
    while (l1.messages.length + l2.messages.length === 0) await new Promise((r) => setTimeout(r, 20));
    const winner = l1.messages.length > 0 ? { taker: l1, other: l2 } : { taker: l2, other: l1 };
    expect(winner.other.messages).toEqual([]);
    expect((await winner.taker.next('job')).job.id).toBe(id);
    await winner.taker.close(); // it journaled the job; its job.accepted never left
    const reoffered = await winner.other.next('job');
    expect(reoffered.job.id).toBe(id);
    winner.other.send({ type: 'job.accepted', jobId: id });
    expect(await winner.other.next('job.start')).toMatchObject({ jobId: id });
    // The first comes back listing the job: it is told not to run it, and answers job.cancelled.
    const takerAppliance = winner.taker === l1 ? first : second;
    const back = await helloLink(takerAppliance, { roles: ['connector'], pendingResults: [id] });
    expect(await back.next('job.cancel')).toMatchObject({ jobId: id, reason: 'reassigned' });
    back.send({ type: 'job.cancelled', jobId: id, status: 'dropped' });
    back.send({ type: 'health', report: healthReport() });
    await back.next('ack'); // job.cancelled has no answer and no error
    await back.close();
    const ref = winner.other.send({
      type: 'job.result',
      jobId: id,
      status: 'failed',
      error: { code: 'OUTPOST_ERR_CONFLICT', retryable: false, message: 'already revoked' },
    });
    await winner.other.next('ack');
    expect(ref).toBeTruthy();
    const job = (await cloud.admin('GET', `/v1/admin/jobs/${id}`)).body;
    expect(job.applianceId).not.toBe(winner.taker === l1 ? first.applianceId : second.applianceId);
    await winner.other.close();
  });
});

describe('sites', () => {
  it('enrolls into the site its token names; a site job goes to that site only; a site without appliances is refused', async () => {
    const lyon = await enroll(cloud, ['connector'], 'ec-p256', 'lyon-test');
    const paris = await enroll(cloud, ['connector'], 'ec-p256', 'paris-test');
    expect((await cloud.admin('GET', `/v1/admin/appliances/${lyon.applianceId}`)).body.site).toBe(
      'lyon-test',
    );
    expect((await cloud.admin('GET', `/v1/admin/appliances/${paris.applianceId}`)).body.site).toBe(
      'paris-test',
    );
    const badName = await cloud.admin('POST', '/v1/admin/enrollment-tokens', { site: 'no spaces' });
    expect(badName.status).toBe(400);
    const job = (site: string) => ({
      kind: 'cert.revoke',
      target: { role: 'connector', site },
      payload: { serialHex: '0b' },
    });
    const nowhere = await cloud.admin('POST', '/v1/admin/jobs', job('nowhere'));
    expect(nowhere.status).toBe(400);
    expect(nowhere.body.error.message).toContain('site nowhere has no enrolled connector appliance');

    const l = await helloLink(lyon, { roles: ['connector'] });
    const p = await helloLink(paris, { roles: ['connector'] });
    const id = (await cloud.admin('POST', '/v1/admin/jobs', job('paris-test'))).body.id as string;
    expect((await p.next('job')).job.id).toBe(id);
    // The other site's appliance is not offered it, and is told not to run it if it says it has it.
    l.send({ type: 'job.accepted', jobId: id });
    expect(await l.next('job.cancel')).toMatchObject({ jobId: id, reason: 'unknown' });
    expect(await l.next('error')).toMatchObject({ code: 'OUTPOST_ERR_NOT_FOUND' });
    await l.close();
    await p.close();
  });
});

describe('config, events, renewal', () => {
  it('pushes a config live and on the next hello, records applied and rejected versions', async () => {
    const a = await enroll(cloud, ['gateway']);
    const link = await helloLink(a, { roles: ['gateway'] });
    const gateway = { listen: '0.0.0.0:8443', dns: { servers: ['10.0.0.53'] } };
    const put = await cloud.admin('PUT', `/v1/admin/appliances/${a.applianceId}/config`, { gateway });
    expect(put.status).toBe(201);
    const pushed = await link.next('config');
    expect(pushed).toMatchObject({ version: 1, config: { gateway } });
    const applied = link.send({ type: 'config.result', version: 1, status: 'applied' });
    expect(await link.next('ack')).toMatchObject({ ref: applied });

    await cloud.admin('PUT', `/v1/admin/appliances/${a.applianceId}/config`, {
      gateway: { listen: 'bogus' },
    });
    expect((await link.next('config')).version).toBe(2);
    const rejected = link.send({
      type: 'config.result',
      version: 2,
      status: 'rejected',
      error: { code: 'OUTPOST_ERR_CONFIG', retryable: false, message: 'gateway.listen: expected host:port' },
    });
    await link.next('ack');
    expect(rejected).toBeTruthy();
    const view = (await cloud.admin('GET', `/v1/admin/appliances/${a.applianceId}`)).body;
    expect(view.config).toEqual({
      latestVersion: 2,
      appliedVersion: 1,
      rejected: { version: 2, reason: 'gateway.listen: expected host:port' },
    });
    await link.close();

    // On reconnect, an appliance at version 1 is sent version 2 again; one at 2 is not.
    const again = await helloLink(a, { roles: ['gateway'], configVersion: 1 });
    expect((await again.next('config')).version).toBe(2);
    await again.close();
    const upToDate = await helloLink(a, { roles: ['gateway'], configVersion: 2 });
    upToDate.send({ type: 'health', report: healthReport() });
    await upToDate.next('ack');
    expect(upToDate.messages).toEqual([]);
    await upToDate.close();

    expect((await cloud.admin('PUT', `/v1/admin/appliances/${a.applianceId}/config`, {})).status).toBe(400);
    expect((await cloud.admin('PUT', '/v1/admin/appliances/nobody/config', { gateway: {} })).status).toBe(
      404,
    );
  });

  it('stores events once and acks them', async () => {
    const a = await enroll(cloud, ['connector']);
    const link = await helloLink(a, { roles: ['connector'] });
    const event = {
      kind: 'scep.issued',
      transactionId: 'tx-1',
      serialHex: '0a0b0c',
      thumbprint: 'ab'.repeat(32),
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
    };
    const at = new Date().toISOString();
    const id = link.send({ type: 'event', at, event });
    await link.next('ack');
    link.send({ type: 'event', id, at, event }); // resent after a lost ack
    await link.next('ack');
    const listed = await cloud.admin('GET', `/v1/admin/events?applianceId=${a.applianceId}`);
    expect(listed.body.events).toHaveLength(1);
    expect(listed.body.events[0]).toMatchObject({ applianceId: a.applianceId, event });
    await link.close();
  });

  it('renews the link certificate over the link; the new one verifies and connects', async () => {
    const a = await enroll(cloud, ['gateway']);
    const link = await helloLink(a, { roles: ['gateway'] });
    const { csrPem, keyPem } = await makeCsr('rsa-2048');
    const ref = link.send({ type: 'renew', csr: csrPem });
    const renewed = await link.next('renewed');
    expect(renewed.ref).toBe(ref);
    const cert = file('renewed.pem', renewed.certificate);
    expect(
      await openssl(['verify', '-CAfile', file('ca.pem', cloud.caPem), '-purpose', 'sslclient', cert]),
    ).toContain('OK');
    expect(parseCertificate(firstDer(renewed.certificate, 'CERTIFICATE')).serialHex).not.toBe(
      parseCertificate(firstDer(a.certPem, 'CERTIFICATE')).serialHex,
    );
    await link.close();
    const next = await helloLink({ ...a, certPem: renewed.certificate, keyPem }, { roles: ['gateway'] });
    // Bad input from a peer: refused each time, logged once per connection at warn without a
    // stack, and counted when the connection closes.
    const logsBefore = cloud.logs().length;
    for (let i = 0; i < 3; i++) {
      const bad = next.send({ type: 'renew', csr: 'not a csr' });
      expect(await next.next('error')).toMatchObject({ ref: bad, code: 'OUTPOST_ERR_BAD_REQUEST' });
    }
    await next.close();
    const summary = 'appliance messages refused on this connection';
    for (let i = 0; i < 100 && !cloud.logs().slice(logsBefore).includes(summary); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const lines = cloud
      .logs()
      .slice(logsBefore)
      .split('\n')
      .filter((l) => l.includes(a.applianceId) && /refused|failed/.test(l))
      .map((l) => JSON.parse(l) as { level: number; msg: string; refused?: number; err?: unknown });
    expect(lines.map((l) => [l.level, l.msg, l.refused])).toEqual([
      [40, 'appliance message refused (further ones on this connection are only counted)', undefined],
      [40, summary, 3],
    ]);
    expect(lines.some((l) => l.err !== undefined)).toBe(false);
  });
});

describe('tokens', () => {
  it('mints SCEP challenges the connector verifies against the published JWKS, once each', async () => {
    const res = await cloud.admin('POST', '/v1/admin/scep-challenges', {
      subject: 'CN=device-1,O=Example',
      sans: { dns: ['device-1.corp.test'] },
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
      minKeySize: 2048,
      deviceId: 'dev-1',
      userId: 'alice',
      ttlSeconds: 600,
    });
    expect(res.status).toBe(201);
    const jwks = (await cloud.http('GET', '/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(res.body.token, createLocalJWKSet(jwks), { issuer: cloud.url });
    expect(payload.jti).toBe(res.body.id);
    const verifier = new JwsChallengeVerifier({
      jwks,
      store: new MemoryChallengeStore(),
      clock: () => new Date(),
    });
    const grant = await verifier.verify(res.body.token);
    expect(grant.expectations).toEqual({
      subject: 'CN=device-1,O=Example',
      sans: { dns: ['device-1.corp.test'] },
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
      keySize: 2048,
      deviceId: 'dev-1',
      userId: 'alice',
    });
    await expect(verifier.verify(res.body.token)).rejects.toThrow('already used');
    const other = (await cloud.admin('POST', '/v1/admin/scep-challenges', { ttlSeconds: 60 })).body;
    expect(other.id).not.toBe(res.body.id);
  });

  it('mints user tokens the gateway token authenticator accepts', async () => {
    const res = await cloud.admin('POST', '/v1/admin/tokens', {
      sub: 'alice',
      claims: { upn: 'alice@corp.test', groups: ['vpn-users'] },
      ttlSeconds: 300,
    });
    expect(res.status).toBe(201);
    const jwks = (await cloud.http('GET', '/.well-known/jwks.json')).body;
    const auth = new TokenAuthenticator({
      keys: createLocalJWKSet(jwks),
      issuer: cloud.url,
      audience: 'outpost-gateway',
      usernameClaim: 'upn',
    });
    expect(await auth.authenticate(res.body.token)).toMatchObject({
      username: 'alice@corp.test',
      groups: ['vpn-users'],
    });
    const reserved = await cloud.admin('POST', '/v1/admin/tokens', { sub: 'x', claims: { exp: 1 } });
    expect(reserved.status).toBe(400);
  });
});

describe('restart', () => {
  it('keeps its CA, keys, appliances and jobs across a SIGKILL and restart', async () => {
    const own = await startCloud({ args: ['--reassign-grace', '0'] });
    try {
      const a = await enroll(own, ['gateway']);
      let link = await LinkClient.connect(own, a);
      link.hello(a.applianceId, { roles: ['gateway'] });
      await link.next('jwks', { skip: true });
      const id = (
        await own.admin('POST', '/v1/admin/jobs', {
          kind: 'session.revoke',
          target: { role: 'gateway' },
          payload: { user: 'dave' },
        })
      ).body.id as string;
      await link.next('job');
      link.send({ type: 'job.accepted', jobId: id });
      await link.next('job.start');
      await own.kill();
      await link.closed;

      const restarted = await startCloud({
        dataDir: own.dataDir,
        port: own.port,
        args: ['--reassign-grace', '0'],
      });
      expect(restarted.caPem).toBe(own.caPem);
      link = await LinkClient.connect(restarted, a);
      link.hello(a.applianceId, { roles: ['gateway'], pendingResults: [id] });
      await link.next('jwks', { skip: true });
      await link.next('job.start');
      const ref = link.send({ type: 'job.result', jobId: id, status: 'done', result: { disconnected: 0 } });
      expect(await link.next('ack')).toMatchObject({ ref, jobId: id });
      expect((await restarted.admin('GET', `/v1/admin/jobs/${id}`)).body.status).toBe('done');
      await link.close();
      await restarted.stop();
    } finally {
      await own.stop();
    }
  });
});
