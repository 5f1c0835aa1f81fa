import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliPath, freePort, type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from './testing/softhsm.js';

requirePeers('softhsm2-util', 'scepclient', 'openssl', 'curl');

// An appliance whose CA, SCEP RA and OCSP keys are in a SoftHSM2 token (keys.store: pkcs11):
// `outpost ca init` generates them there, the real micromdm scepclient enrolls (its request is
// decrypted by the RA key in the token with CKM_RSA_PKCS; the CertRep is signed there) and
// renews, openssl checks the certificate, the CRL and the OCSP answers, and a wrong PIN or a
// missing module stops `outpost run` with a clear error.
describe('keys in a PKCS#11 token (SoftHSM2): scepclient, openssl crl and ocsp', () => {
  let hsm: SoftHsm;
  let app: RunningAppliance;
  let dataDir: string;
  let work: string;
  let caFile: string;
  let keys: { store: string; pkcs11: { module: string; tokenLabel: string; pinFile: string } };
  const challenge = 'hsm-static-secret';

  /** `outpost VERB … --config FILE` with `keys` (and a data directory) of our choosing, no appliance running. */
  async function cliWith(args: string[], keysSection: unknown, dir = dataDir) {
    const configFile = join(work, `config-${Math.random().toString(36).slice(2)}.yaml`);
    const adminPort = await freePort();
    writeFileSync(
      configFile,
      stringify({
        dataDir: dir,
        roles: ['connector'],
        admin: { listen: `127.0.0.1:${adminPort}` },
        keys: keysSection,
        connector: { scep: { listen: `127.0.0.1:${await freePort()}` } },
      }),
    );
    return run(process.execPath, [cliPath, ...args, '--config', configFile], { timeoutMs: 60_000 });
  }

  beforeAll(async () => {
    hsm = createSoftHsm();
    const pinFile = hsm.initToken('outpost-site', '135790');
    keys = { store: 'pkcs11', pkcs11: { module: SOFTHSM_MODULE, tokenLabel: 'outpost-site', pinFile } };
    work = mkdtempSync(join(tmpdir(), 'outpost-hsm-work-'));
    dataDir = mkdtempSync(join(tmpdir(), 'outpost-hsm-data-'));
    const init = await cliWith(['ca', 'init', '--key-algorithm', 'rsa-2048'], keys);
    expect(init.code, init.stderr).toBe(0);
    caFile = join(work, 'ca.pem');
    writeFileSync(caFile, init.stdout);
    app = await startAppliance(
      { keys, connector: { scep: { challenge: { static: challenge } } } },
      { dataDir },
    );
  });
  afterAll(async () => {
    await app?.stop();
    hsm?.cleanup();
  });

  it('keeps no private key in the data directory: ca init put them in the token; /readyz checks the token', async () => {
    const ready = (await (await fetch(`${app.adminUrl}/readyz`)).json()) as {
      checks: Record<string, unknown>;
    };
    expect(ready.checks.keys).toEqual({ ok: true, detail: 'pkcs11 token "outpost-site"' });
    expect(readdirSync(join(dataDir, 'ca')).filter((f) => f.endsWith('.key'))).toEqual([]);
    const shown = await app.cli(['ca', 'show', '--pem']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe(await openssl(['x509', '-in', caFile]));
    // a second init finds the CA in the token and refuses to replace it
    const again = await cliWith(['ca', 'init'], keys, mkdtempSync(join(tmpdir(), 'outpost-hsm-other-')));
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('CA material already exists');
  });

  let leaf: string;

  it('enrolls and renews with scepclient: request decrypted and CertRep signed in the token', async () => {
    const enrolled = await scepclient(app.scepUrl, { cn: 'hsm-device', challenge });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
    const renewed = await scepclient(app.scepUrl, { cn: 'hsm-device', dir: enrolled.dir });
    expect(renewed.code, renewed.stdout + renewed.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caFile, renewed.certFile])).toContain(': OK');
    leaf = renewed.certFile;
  });

  it('signs OCSP answers (delegated signer in the token) and CRLs; a revocation shows in both', async () => {
    const ocspUrl = (await openssl(['x509', '-in', leaf, '-noout', '-ocsp_uri'])).trim();
    const ask = async () => {
      const r = await run('openssl', [
        'ocsp',
        '-url',
        ocspUrl,
        '-CAfile',
        caFile,
        '-issuer',
        caFile,
        '-cert',
        leaf,
      ]);
      expect(r.stdout + r.stderr).toContain('Response verify OK');
      return r.stdout;
    };
    expect(await ask()).toContain(`${leaf}: good`);
    const serial = (await openssl(['x509', '-in', leaf, '-noout', '-serial'])).trim().split('=')[1]!;
    const revoked = await app.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await ask()).toContain(`${leaf}: revoked`);
    // the CLI wrote the new CRL (signed in the token); the appliance adopts it on its next reload
    const crlFile = join(work, 'ca.crl');
    let crl = '';
    for (let i = 0; i < 40 && !crl.includes(serial); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
      const fetched = await run('curl', ['-sSf', '-o', crlFile, `${app.baseUrl}/crl/ca.crl`]);
      expect(fetched.code, fetched.stderr).toBe(0);
      crl = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', caFile, '-noout', '-text']);
    }
    expect(crl).toContain('verify OK');
    expect(crl).toContain(serial);
    expect(crl).toContain('Key Compromise');
  });

  it('refuses to export token keys', async () => {
    const pw = join(work, 'pw');
    writeFileSync(pw, 'export-password\n');
    const result = await app.cli(['ca', 'export', '--pkcs12', join(work, 'x.p12'), '--password-file', pw]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('in a PKCS#11 token (keys.store: pkcs11) and cannot leave it');
  });

  it.each([
    [
      'a wrong PIN',
      () => ({ ...keys.pkcs11, pinFile: writeFile('wrong.pin', '000000\n') }),
      /refused the PIN in keys\.pkcs11\.pinFile \(CKR_PIN_INCORRECT\)/,
    ],
    [
      'a missing module',
      () => ({ ...keys.pkcs11, module: '/usr/lib/no-such-pkcs11.so' }),
      /cannot load the PKCS#11 module \/usr\/lib\/no-such-pkcs11\.so \(keys\.pkcs11\.module\)/,
    ],
  ])(
    'stops `outpost run` on %s: exit 2, OUTPOST_ERR_KEY_STORE, no stack trace',
    async (_name, pkcs11, message) => {
      const result = await cliWith(
        ['run'],
        { store: 'pkcs11', pkcs11: pkcs11() },
        mkdtempSync(join(tmpdir(), 'outpost-hsm-bad-')),
      );
      expect(result.code).toBe(2);
      const lastLine = result.stderr.trim().split('\n').at(-1)!;
      expect(lastLine).toMatch(message);
      expect(lastLine).toMatch(/\(OUTPOST_ERR_KEY_STORE\)$/);
      expect(result.stdout + result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack frames anywhere
    },
  );

  function writeFile(name: string, content: string): string {
    const path = join(work, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }
});
