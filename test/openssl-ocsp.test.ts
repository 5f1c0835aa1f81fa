import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl', 'curl');

// The real `openssl ocsp` client against a running appliance: it sends a nonce and checks the
// echo, verifies the response signature through the delegated signer up to the CA (-CAfile, no
// -noverify), and prints each certificate's status. Revocation goes through the CLI, in another
// process, and must show in the very next answer.
describe('openssl ocsp against the built-in CA responder', () => {
  let app: RunningAppliance;
  let work: string;
  let caFile: string;
  let leaf: string;
  let serial: string;
  let ocspUrl: string;

  beforeAll(async () => {
    app = await startAppliance({ connector: { scep: { challenge: { static: 'static-secret' } } } });
    work = mkdtempSync(join(tmpdir(), 'outpost-ocsp-'));
    caFile = join(app.dataDir, 'ca', 'ca.pem');
    const enrolled = await scepclient(app.scepUrl, { cn: 'ocsp-device', challenge: 'static-secret' });
    expect(enrolled.code, enrolled.stdout + enrolled.stderr).toBe(0);
    leaf = enrolled.certFile;
    serial = (await openssl(['x509', '-in', leaf, '-noout', '-serial'])).trim().split('=')[1]!;
    ocspUrl = (await openssl(['x509', '-in', leaf, '-noout', '-ocsp_uri'])).trim();
  });
  afterAll(async () => app?.stop());

  /** openssl ocsp exits 0 for good, revoked and unknown alike; it fails on a bad signature or nonce. */
  async function ask(args: string[]): Promise<string> {
    const result = await run('openssl', ['ocsp', '-url', ocspUrl, '-CAfile', caFile, ...args]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain('Response verify OK');
    expect(output).not.toMatch(/WARNING|Nonce Verify error/);
    return output;
  }

  it('names the responder in the certificate (AIA) and keeps the signer key private', async () => {
    expect(ocspUrl).toBe(`${app.baseUrl}/ocsp`);
    expect(statSync(join(app.dataDir, 'ca', 'ocsp.key')).mode & 0o777).toBe(0o600);
  });

  it('answers good with the nonce echoed and a delegated signer openssl accepts', async () => {
    const output = await ask(['-issuer', caFile, '-cert', leaf, '-resp_text']);
    expect(output).toMatch(/OCSP Nonce:/);
    expect(output).toContain(`${leaf}: good`);
    expect(output).toMatch(/Responder Id: [0-9A-F]{40}/); // byKey
    expect(output).toContain('OCSP Signing');
    expect(output).toContain('Outpost Root CA OCSP Signer');
  });

  it('answers unknown for a serial the CA never issued', async () => {
    const output = await ask(['-issuer', caFile, '-serial', '0x0123456789abcdef']);
    expect(output).toContain('0x0123456789abcdef: unknown');
  });

  it('answers with the GET form (RFC 6960 A.1) fetched by curl', async () => {
    const request = join(work, 'get-req.der');
    await openssl(['ocsp', '-issuer', caFile, '-cert', leaf, '-no_nonce', '-reqout', request]);
    const path = encodeURIComponent(readFileSync(request).toString('base64'));
    const response = join(work, 'get-resp.der');
    const fetched = await run('curl', [
      '-sS',
      '-f',
      '-o',
      response,
      '-w',
      '%{content_type}',
      `${ocspUrl}/${path}`,
    ]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toBe('application/ocsp-response');
    const output = await openssl([
      'ocsp',
      '-respin',
      response,
      '-issuer',
      caFile,
      '-cert',
      leaf,
      '-CAfile',
      caFile,
      '-no_nonce',
    ]);
    expect(output).toContain('Response verify OK');
    expect(output).toContain(`${leaf}: good`);
  });

  it('answers a garbage body with malformedRequest (HTTP 200), logs it once, and keeps serving', async () => {
    const garbage = join(work, 'garbage.bin');
    writeFileSync(garbage, randomBytes(300));
    const response = join(work, 'garbage-resp.der');
    const posted = await run('curl', [
      '-sS',
      '-o',
      response,
      '-w',
      '%{http_code}',
      '-H',
      'Content-Type: application/ocsp-request',
      '--data-binary',
      `@${garbage}`,
      ocspUrl,
    ]);
    expect(posted.stdout).toBe('200');
    const printed = await run('openssl', ['ocsp', '-respin', response, '-resp_text']);
    expect(printed.stdout + printed.stderr).toContain('Responder Error: malformedrequest (1)');
    expect(await app.waitForLog('OCSP request malformed')).toBe(true);
    expect(app.logs().split('OCSP request malformed').length - 1).toBe(1);
    const again = await ask(['-issuer', caFile, '-cert', leaf]);
    expect(again).toContain(`${leaf}: good`);
  });

  it('answers revoked with the reason right after `outpost certs revoke`', async () => {
    const revoked = await app.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);
    // No wait: the responder reads the inventory on every request (no cached "good").
    const output = await ask(['-issuer', caFile, '-cert', leaf, '-resp_text']);
    expect(output).toMatch(new RegExp(`${leaf.replace(/[/.]/g, '\\$&')}: revoked\\s+This Update`));
    expect(output).toMatch(/Reason: keyCompromise/);
    expect(output).toMatch(/Revocation Time: /);
  });

  it('counts answers by status in the metrics', async () => {
    const metrics = await (await fetch(`${app.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/outpost_ocsp_requests_total\{status="good"\} [1-9]/);
    expect(metrics).toMatch(/outpost_ocsp_requests_total\{status="revoked"\} 1/);
    expect(metrics).toMatch(/outpost_ocsp_requests_total\{status="unknown"\} 1/);
    expect(metrics).toMatch(/outpost_ocsp_requests_total\{status="malformedRequest"\} 1/);
  });
});
