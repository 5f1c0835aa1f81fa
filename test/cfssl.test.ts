import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, parseCsr } from '../certs/csr.js';
import { generateKeyPair } from '../certs/keys.js';
import { toPem } from '../certs/pem.js';
import type { IssuedCertificate, IssueRequest } from '../connector/ca/ca-backend.js';
import { CfsslCa } from '../connector/ca/cfssl/cfssl-ca.js';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { type RunningCfssl, startCfssl } from './testing/cfssl.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('cfssl', 'sqlite3', 'scepclient', 'openssl');

// cfssl 1.2.0 (Debian golang-cfssl) as the CA behind Outpost: sign, authsign, revoke, info over
// its REST API, with every certificate and CRL checked by openssl.

const profile = { name: 'device', validityDays: 30, keyUsage: ['digitalSignature'], eku: ['clientAuth'] };

async function caught(work: Promise<unknown>): Promise<OutpostError> {
  const e = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutpostError);
  return e as OutpostError;
}

/** The serial as openssl prints it, lower-cased (what `outpost certs revoke` takes). */
async function serialOf(certFile: string): Promise<string> {
  return (await openssl(['x509', '-in', certFile, '-noout', '-serial'])).trim().split('=')[1]!.toLowerCase();
}

describe('Outpost with cfssl as its CA', () => {
  let cfssl: RunningCfssl;
  let app: RunningAppliance;

  beforeAll(async () => {
    cfssl = await startCfssl();
    app = await startAppliance({
      connector: {
        scep: { challenge: { static: 'device-secret' } },
        ca: { type: 'cfssl', url: cfssl.url, profile: 'client', timeoutMs: 5000 },
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await cfssl?.stop();
  });

  it('issues to scepclient through cfssl, revokes through cfssl (seen in its certdb and CRL), refuses a second revocation', async () => {
    const enrolled = await scepclient(app.scepUrl, { cn: 'cfssl-device-1', challenge: 'device-secret' });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', cfssl.caCertFile, enrolled.certFile])).toContain(': OK');
    const text = await openssl(['x509', '-in', enrolled.certFile, '-noout', '-text']);
    expect(text).toContain('Fixture CFSSL Root CA');
    expect(text).toMatch(/Subject: C\s*=\s*US, O\s*=\s*Example, OU\s*=\s*Devices, CN\s*=\s*cfssl-device-1/);
    expect(text).toContain('TLS Web Client Authentication');

    const serial = await serialOf(enrolled.certFile);
    const decimal = BigInt(`0x${serial}`).toString(10);
    expect(cfssl.certdb()).toContainEqual({ serial: decimal, status: 'good', reason: 0 });

    const revoked = await app.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(cfssl.certdb()).toContainEqual({ serial: decimal, status: 'revoked', reason: 1 });
    const crlFile = join(enrolled.dir, 'cfssl.crl');
    writeFileSync(crlFile, await cfssl.crl());
    const crlText = await openssl([
      'crl',
      '-inform',
      'DER',
      '-in',
      crlFile,
      '-CAfile',
      cfssl.caCertFile,
      '-noout',
      '-text',
    ]);
    expect(crlText).toContain('verify OK');
    expect(crlText.toLowerCase()).toContain(`serial number: ${serial}`);
    // (cfssl's gencrl takes serials only, so its CRL has no reason codes: the certdb row has it)

    const again = await app.cli(['certs', 'revoke', serial]);
    expect(again.code).toBe(4); // conflict: already revoked
    expect(again.stderr).toContain(ErrorCodes.conflict);

    const ready = (await (await fetch(`${app.adminUrl}/readyz`)).json()) as {
      checks: Record<string, { ok: boolean; detail?: string }>;
    };
    expect(ready.checks.ca).toEqual({ ok: true, detail: 'cfssl' });
  }, 60_000);
});

describe('the cfssl backend directly', () => {
  let cfssl: RunningCfssl;
  let dir: string;

  beforeAll(async () => {
    cfssl = await startCfssl();
    dir = mkdtempSync(join(tmpdir(), 'outpost-cfssl-backend-'));
  });
  afterAll(async () => {
    await cfssl?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function request(sans: Parameters<typeof buildCsr>[2] = {}): Promise<IssueRequest> {
    const keys = await generateKeyPair('ec-p256');
    return { csr: parseCsr(buildCsr('CN=direct,O=Example', keys, sans)), profile, requester: 'test' };
  }

  async function certText(der: Buffer, name: string): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, toPem('CERTIFICATE', der));
    expect(await openssl(['verify', '-CAfile', cfssl.caCertFile, file])).toContain(': OK');
    return openssl(['x509', '-in', file, '-noout', '-text']);
  }

  it('authsign: the HMAC token is accepted, a wrong key is refused', async () => {
    const backend = await CfsslCa.open({
      url: cfssl.url,
      timeoutMs: 5000,
      authKeyFile: cfssl.authKeyFile,
      profile: 'authclient',
      dir: join(dir, 'auth'),
    });
    const issued = (await backend.issue(await request())) as IssuedCertificate;
    expect(issued.notAfter.getTime() - issued.notBefore.getTime()).toBeLessThanOrEqual(720 * 3600 * 1000);
    await certText(issued.der, 'authsign.pem');

    const wrongKeyFile = join(dir, 'wrong.key');
    writeFileSync(wrongKeyFile, '00'.repeat(16));
    const wrong = await CfsslCa.open({
      url: cfssl.url,
      timeoutMs: 5000,
      authKeyFile: wrongKeyFile,
      profile: 'authclient',
      dir: join(dir, 'auth'),
    });
    expect((await caught(wrong.issue(await request()))).code).toBe(ErrorCodes.unauthorized);
  });

  it('puts the approved DNS, IP and e-mail SANs in; refuses URI SANs and extensions it cannot carry', async () => {
    const backend = await CfsslCa.open({ url: cfssl.url, timeoutMs: 5000, dir: join(dir, 'plain') });
    expect(backend.caChain()).toHaveLength(1);
    const req = await request({ sans: { dns: ['csr-only.example'] } });
    const sans = {
      dns: ['d.example'],
      ip: ['192.0.2.7', '2001:db8::7'],
      email: ['u@example.com'],
      uri: [],
      upn: [],
    };
    const issued = (await backend.issue({ ...req, sans })) as IssuedCertificate;
    const text = await certText(issued.der, 'sans.pem');
    expect(text).toContain('DNS:d.example');
    expect(text).not.toContain('csr-only.example');
    expect(text).toContain('IP Address:192.0.2.7');
    expect(text).toContain('IP Address:2001:DB8:0:0:0:0:0:7');
    expect(text).toContain('email:u@example.com');

    const uri = { ...sans, uri: ['tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-1001'] };
    expect((await caught(backend.issue({ ...req, sans: uri }))).code).toBe(ErrorCodes.unsupported);
    const withExtension = {
      ...req,
      extraExtensions: [
        { oid: '1.3.6.1.4.1.311.25.2', critical: false, valueDer: Buffer.from([0x30, 0x00]) },
      ],
    };
    expect((await caught(backend.issue(withExtension))).code).toBe(ErrorCodes.unsupported);
  });

  it('revoking an unknown serial is notFound; cfssl down is unavailable, and health says so', async () => {
    const backend = await CfsslCa.open({ url: cfssl.url, timeoutMs: 2000, dir: join(dir, 'down') });
    expect((await caught(backend.revoke('0123456789abcdef', 'superseded'))).code).toBe(ErrorCodes.notFound);
    await cfssl.stop();
    expect((await caught(backend.issue(await request()))).code).toBe(ErrorCodes.unavailable);
    expect(await backend.health()).toEqual({
      ok: false,
      detail: 'the cfssl CA is unavailable, try again later',
    });
    // the CA certificate stays known (cached) for GetCACert while cfssl is down
    const reopened = await CfsslCa.open({ url: cfssl.url, timeoutMs: 2000, dir: join(dir, 'down') });
    expect(reopened.caChain()).toHaveLength(1);
  });
});
