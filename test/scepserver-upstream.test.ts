import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../certs/certificate.js';
import { decodeSignedData } from '../certs/cms/index.js';
import { buildCsr, parseCsr } from '../certs/csr.js';
import { generateKeyPair } from '../certs/keys.js';
import { firstDer, toPem } from '../certs/pem.js';
import type { IssuedCertificate, IssueRequest } from '../connector/ca/ca-backend.js';
import { ScepUpstreamCa } from '../connector/ca/scep-upstream/scep-upstream-ca.js';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { freePort, type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';
import { type RunningScepServer, startScepServer } from './testing/scepserver.js';

requirePeers('scepserver', 'scepclient', 'openssl');

// Outpost as a registration authority in front of a real upstream SCEP CA (micromdm scepserver
// 2.1.0, then Outpost itself with manual approval for PENDING). The device is the real micromdm
// scepclient; every certificate is checked with openssl against the upstream CA.

const profile = { name: 'device', validityDays: 30, keyUsage: ['digitalSignature'], eku: ['clientAuth'] };
const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');

/** The serial as openssl prints it (even number of hex digits), lower-cased: what the CLI takes. */
async function serialOf(certFile: string): Promise<string> {
  return (await openssl(['x509', '-in', certFile, '-noout', '-serial'])).trim().split('=')[1]!.toLowerCase();
}

async function deviceCsr(cn: string, challenge?: string) {
  const keys = await generateKeyPair('rsa-2048');
  const csr = parseCsr(
    buildCsr(`CN=${cn},O=Example`, keys, challenge ? { challengePassword: challenge } : {}),
  );
  return { keys, csr, request: { csr, profile, requester: 'test' } satisfies IssueRequest };
}

async function caught(work: Promise<unknown>): Promise<OutpostError> {
  const e = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutpostError);
  return e as OutpostError;
}

describe('Outpost as RA in front of micromdm scepserver (no upstream challenge)', () => {
  let upstream: RunningScepServer;
  let app: RunningAppliance;

  beforeAll(async () => {
    upstream = await startScepServer({ challenge: null });
    app = await startAppliance({
      connector: {
        scep: { challenge: { static: 'device-secret' } },
        ca: { type: 'scep-upstream', url: upstream.url, timeoutMs: 5000 },
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await upstream?.stop();
  });

  it('enrolls scepclient through Outpost; the certificate is the upstream CA’s and openssl verifies it', async () => {
    const enrolled = await scepclient(app.scepUrl, { cn: 'ra-device-1', challenge: 'device-secret' });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', upstream.caCertFile, enrolled.certFile])).toContain(': OK');
    const text = await openssl(['x509', '-in', enrolled.certFile, '-noout', '-issuer', '-subject']);
    expect(text).toContain('Fixture SCEP CA');
    expect(text).toContain('ra-device-1');

    // the inventory has it, under the upstream's serial
    const listed = JSON.parse((await app.cli(['certs', 'list', '--json'])).stdout) as Array<{
      serialHex: string;
    }>;
    const serial = await serialOf(enrolled.certFile);
    expect(listed.map((c) => norm(c.serialHex))).toContain(norm(serial));

    // GetCACert to devices: Outpost's RA first, then the upstream CA
    const res = await fetch(`${app.scepUrl}?operation=GetCACert`);
    expect(res.headers.get('content-type')).toContain('application/x-x509-ca-ra-cert');
    const certs = decodeSignedData(Buffer.from(await res.arrayBuffer()), { maxBytes: 1 << 20 }).certificates;
    const upstreamCa = firstDer(readFileSync(upstream.caCertFile, 'utf8'), 'CERTIFICATE');
    expect(certs).toHaveLength(2);
    expect(certs[1]!.equals(upstreamCa)).toBe(true);
    expect(
      certs[0]!.equals(firstDer(readFileSync(join(app.dataDir, 'ca', 'ra.pem'), 'utf8'), 'CERTIFICATE')),
    ).toBe(true);

    // the RA's client key towards the upstream is private
    expect(statSync(join(app.dataDir, 'scep-upstream', 'ra-client.key')).mode & 0o777).toBe(0o600);

    // SCEP has no revocation: the inventory records it, the CLI says the CA was not told
    const revoke = await app.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toContain(ErrorCodes.unsupported);
    expect(revoke.stderr).toContain('revoke it at the CA as well');
    const revoked = JSON.parse(
      (await app.cli(['certs', 'list', '--status', 'revoked', '--json'])).stdout,
    ) as Array<{
      serialHex: string;
    }>;
    expect(revoked.map((c) => norm(c.serialHex))).toContain(norm(serial));
    expect((await app.cli(['certs', 'revoke', serial])).code).toBe(4); // already revoked: conflict

    const ready = (await (await fetch(`${app.adminUrl}/readyz`)).json()) as {
      checks: Record<string, { ok: boolean; detail?: string }>;
    };
    expect(ready.checks.ca).toEqual({ ok: true, detail: 'scep-upstream' });
  }, 60_000);

  it('with the upstream down, the device gets a FAILURE at once and /readyz says why', async () => {
    await upstream.stop();
    const refused = await scepclient(app.scepUrl, { cn: 'ra-device-down', challenge: 'device-secret' });
    expect(refused.code).toBe(1);
    // a CertRep FAILURE, so the device was answered (not cut off by the run's time limit)
    expect(refused.stdout + refused.stderr).toContain('failInfo: badRequest (2)');
    expect(await app.waitForLog(ErrorCodes.unavailable)).toBe(true);
    const res = await fetch(`${app.adminUrl}/readyz`);
    const ready = (await res.json()) as {
      ready: boolean;
      checks: Record<string, { ok: boolean; detail?: string }>;
    };
    expect(ready.checks.ca?.ok).toBe(false);
    expect(ready.checks.ca?.detail).toMatch(/^scep-upstream: the upstream SCEP CA is unavailable/);
    expect(res.status).toBe(200); // a CA that is down does not take GetCACert and CRLs away
  }, 60_000);
});

describe('upstream that accepts connections but never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let dir: string;
  let url: string;

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    url = `http://127.0.0.1:${port}/scep`;
    dir = mkdtempSync(join(tmpdir(), 'outpost-upstream-hung-'));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives up after timeoutMs with a retryable unavailable, never hangs', async () => {
    const backend = await ScepUpstreamCa.open({
      url,
      dir,
      timeoutMs: 300,
      pollIntervalSeconds: 1,
      pollTimeoutSeconds: 60,
    });
    expect(backend.caChain()).toEqual([]);
    const { request } = await deviceCsr('hung-1');
    const e = await caught(backend.issue(request));
    expect(e.code).toBe(ErrorCodes.unavailable);
    expect(e.message).toContain('no complete answer within 300 ms');
    expect(await backend.health()).toEqual({
      ok: false,
      detail: 'the upstream SCEP CA is unavailable, try again later',
    });
  });
});

describe('micromdm scepserver enforcing a challenge', () => {
  let upstream: RunningScepServer;
  let dir: string;

  beforeAll(async () => {
    upstream = await startScepServer({ challenge: 'upstream-secret' });
    dir = mkdtempSync(join(tmpdir(), 'outpost-upstream-ch-'));
  });
  afterAll(async () => {
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a device CSR reaches it unchanged; a CSR the RA builds for a key it holds carries the challenge', async () => {
    const upstreamCa = readFileSync(upstream.caCertFile);
    const backend = await ScepUpstreamCa.open({
      url: upstream.url,
      dir,
      timeoutMs: 5000,
      pollIntervalSeconds: 1,
      pollTimeoutSeconds: 60,
      caFingerprint: certificateThumbprint(firstDer(upstreamCa.toString('utf8'), 'CERTIFICATE')),
      challenge: 'upstream-secret',
    });

    // The device signed its CSR with Outpost's challenge in it: the upstream refuses it.
    const device = await deviceCsr('device-with-outpost-challenge', 'outpost-challenge');
    const refused = await caught(backend.issue(device.request));
    expect(refused.code).toBe(ErrorCodes.badRequest);
    expect(refused.message).toContain('failInfo badRequest');

    // Server-side keys: the RA holds the key and rebuilds the CSR with the upstream challenge.
    const serverSide = await deviceCsr('server-side-key');
    const issued = (await backend.issue({
      ...serverSide.request,
      subjectKey: serverSide.keys.privateKey,
    })) as IssuedCertificate;
    expect(issued.der).toBeInstanceOf(Buffer);
    const certFile = join(dir, 'server-side.pem');
    writeFileSync(certFile, toPem('CERTIFICATE', issued.der));
    expect(await openssl(['verify', '-CAfile', upstream.caCertFile, certFile])).toContain(': OK');
    expect(await openssl(['x509', '-in', certFile, '-noout', '-subject'])).toContain('server-side-key');

    // A pinned fingerprint that does not match refuses the upstream's GetCACert.
    const wrongPin = await ScepUpstreamCa.open({
      url: upstream.url,
      dir: mkdtempSync(join(tmpdir(), 'outpost-upstream-pin-')),
      timeoutMs: 5000,
      pollIntervalSeconds: 1,
      pollTimeoutSeconds: 60,
      caFingerprint: '00'.repeat(32),
    });
    const pinned = await caught(wrongPin.issue(serverSide.request));
    expect(pinned.code).toBe(ErrorCodes.badSignature);
    expect(wrongPin.caChain()).toEqual([]);
  }, 60_000);
});

describe('upstream answering PENDING (Outpost with manual approval as the upstream CA)', () => {
  let upstream: RunningAppliance;
  let ra: RunningAppliance;

  beforeAll(async () => {
    upstream = await startAppliance({
      connector: {
        scep: { challenge: { static: 'shared-secret' } },
        profiles: { device: { approval: 'manual' } },
      },
    });
    ra = await startAppliance({
      connector: {
        scep: { challenge: { static: 'shared-secret' } },
        ca: { type: 'scep-upstream', url: upstream.scepUrl, timeoutMs: 5000, pollIntervalSeconds: 1 },
      },
    });
  });
  afterAll(async () => {
    await ra?.stop();
    await upstream?.stop();
  });

  async function upstreamPending(cn: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const listed = JSON.parse((await upstream.cli(['certs', 'pending', '--json'])).stdout) as Array<{
        transactionId: string;
        subject: string;
      }>;
      const entry = listed.find((p) => p.subject.includes(`CN=${cn}`));
      if (entry) return entry.transactionId;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no pending request for ${cn} at the upstream`);
  }

  it('the device gets PENDING, the RA polls the upstream with CertPoll, and the device gets the certificate once approved', async () => {
    const device = scepclient(ra.scepUrl, {
      cn: 'pending-device',
      challenge: 'shared-secret',
      timeoutMs: 90_000,
    });
    const upstreamTransaction = await upstreamPending('pending-device');
    // The RA names the upstream transaction after the CSR, not after the device's transaction.
    expect(upstreamTransaction).toMatch(/^[0-9A-F]{64}$/);
    expect((await upstream.cli(['certs', 'approve', upstreamTransaction])).code).toBe(0);

    // The RA's maintenance CertPoll picks the certificate up before the device asks again.
    let recorded = false;
    for (let i = 0; i < 100 && !recorded; i++) {
      const listed = JSON.parse((await ra.cli(['certs', 'list', '--json'])).stdout) as Array<{
        subject: string;
      }>;
      recorded = listed.some((c) => c.subject.includes('pending-device'));
      if (!recorded) await new Promise((r) => setTimeout(r, 200));
    }
    expect(recorded).toBe(true);

    const enrolled = await device;
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    expect(enrolled.stdout + enrolled.stderr).toContain('PENDING');
    expect(
      await openssl(['verify', '-CAfile', join(upstream.dataDir, 'ca', 'ca.pem'), enrolled.certFile]),
    ).toContain(': OK');
  }, 120_000);
});
