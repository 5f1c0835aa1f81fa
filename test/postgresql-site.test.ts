import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { postgresPrograms, type RunningPostgres, startPostgres } from './testing/postgres.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers(...postgresPrograms(), 'scepclient', 'openssl');

/**
 * Two connector processes of one site on one PostgreSQL 15 (state.backend: postgres), the second
 * started with a copy of the first's CA: a challenge minted on one node is spent on the other,
 * once; a certificate issued by one is listed by the other; a revocation on node A is in node B's
 * CRL and OCSP answers. (HAProxy in front of them is the next step of issue 15.)
 */
describe('a site of two connectors on PostgreSQL', () => {
  let pg: RunningPostgres;
  let a: RunningAppliance;
  let b: RunningAppliance;
  let work: string;

  beforeAll(async () => {
    pg = await startPostgres();
    work = mkdtempSync(join(tmpdir(), 'outpost-site-'));
    const url = await pg.createDatabase('site');
    const passwordFile = join(work, 'pg-password');
    writeFileSync(passwordFile, `${pg.password}\n`, { mode: 0o600 });
    const site = {
      state: { backend: 'postgres', postgres: { url, passwordFile, tls: { mode: 'disable' } } },
      connector: { scep: { workers: 1 } },
    };
    a = await startAppliance(site);
    const bDir = mkdtempSync(join(tmpdir(), 'outpost-test-'));
    cpSync(join(a.dataDir, 'ca'), join(bDir, 'ca'), { recursive: true });
    b = await startAppliance(site, { dataDir: bDir });
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pg?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');

  async function listed(node: RunningAppliance): Promise<string[]> {
    const out = await node.cli(['certs', 'list', '--json']);
    expect(out.code, out.stderr).toBe(0);
    return JSON.parse(out.stdout).map((c: { serialHex: string }) => norm(c.serialHex));
  }

  it('reports the shared state ready on both nodes', async () => {
    for (const node of [a, b]) {
      const report = (await (await fetch(`${node.adminUrl}/readyz`)).json()) as {
        checks: Record<string, unknown>;
      };
      expect(report.checks.state).toEqual({ ok: true });
    }
  });

  it('spends a challenge minted on node A once, on node B; the certificate is listed on A', async () => {
    const minted = await a.cli(['scep', 'challenge', '--ttl', '600']);
    expect(minted.code, minted.stderr).toBe(0);
    const challenge = minted.stdout.trim();
    const enrolled = await scepclient(b.scepUrl, { cn: 'site-device', challenge });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(
      await openssl(['verify', '-CAfile', join(a.dataDir, 'ca', 'ca.pem'), enrolled.certFile]),
    ).toContain(': OK');
    const serial = (await openssl(['x509', '-in', enrolled.certFile, '-noout', '-serial']))
      .trim()
      .split('=')[1]!;
    expect(await listed(a)).toContain(norm(serial));
    const again = await scepclient(a.scepUrl, { cn: 'site-device-2', challenge });
    expect(again.code).not.toBe(0);
  });

  it('shows a revocation made on node A in node B’s CRL and OCSP answers', async () => {
    const enrolled = await scepclient(a.scepUrl, { cn: 'site-revoked', challenge: await mint(a) });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const serial = (await openssl(['x509', '-in', enrolled.certFile, '-noout', '-serial']))
      .trim()
      .split('=')[1]!;
    const revoked = await a.cli(['certs', 'revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code, revoked.stderr).toBe(0);

    // B adopts the newest CRL on its maintenance tick (5 s): poll, bounded.
    const crlFile = join(work, 'b.crl');
    let text = '';
    for (let i = 0; i < 40 && !text.includes(serial.toUpperCase()); i++) {
      await new Promise((r) => setTimeout(r, 500));
      const res = await fetch(`${b.baseUrl}/crl/ca.crl`);
      writeFileSync(crlFile, Buffer.from(await res.arrayBuffer()));
      text = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    }
    expect(text).toContain(serial.toUpperCase());
    expect(text).toContain('Key Compromise');

    const caFile = join(b.dataDir, 'ca', 'ca.pem');
    const ocsp = await run('openssl', [
      'ocsp',
      '-url',
      `${b.baseUrl}/ocsp`,
      '-issuer',
      caFile,
      '-CAfile',
      caFile,
      '-cert',
      enrolled.certFile,
    ]);
    expect(ocsp.stdout + ocsp.stderr).toContain('Response verify OK');
    expect(ocsp.stdout).toMatch(/: revoked/);
  });
});

async function mint(node: RunningAppliance): Promise<string> {
  const minted = await node.cli(['scep', 'challenge', '--ttl', '600']);
  expect(minted.code, minted.stderr).toBe(0);
  return minted.stdout.trim();
}
