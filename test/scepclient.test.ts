import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

// Interop with the real micromdm scepclient 2.1.0 (Debian `scep`): DES-CBC + SHA-1 requests,
// URL-safe GETs or POSTs, RenewalReq signed with the issued certificate.
describe('micromdm scepclient against outpost', () => {
  let app: RunningAppliance;
  let caFile: string;

  beforeAll(async () => {
    app = await startAppliance();
    caFile = join(app.dataDir, 'ca', 'ca.pem');
  });
  afterAll(async () => app?.stop());

  async function mintChallenge(): Promise<string> {
    const result = await app.cli(['scep', 'challenge', '--ttl', '600']);
    expect(result.code, result.stderr).toBe(0);
    const challenge = result.stdout.trim();
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    return challenge;
  }

  it('enrolls with a one-time challenge, and openssl verifies the certificate', async () => {
    const challenge = await mintChallenge();
    const enrolled = await scepclient(app.scepUrl, { cn: 'device-one', challenge });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
    const text = await openssl(['x509', '-in', enrolled.certFile, '-noout', '-text']);
    expect(text).toMatch(/Subject: C\s*=\s*US, O\s*=\s*Example, OU\s*=\s*Devices, CN\s*=\s*device-one/);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toContain('/crl/ca.crl');

    const listed = await app.cli(['certs', 'list', '--json']);
    const serial = (await openssl(['x509', '-in', enrolled.certFile, '-noout', '-serial']))
      .trim()
      .split('=')[1]!;
    const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
    expect(JSON.parse(listed.stdout).map((c: { serialHex: string }) => norm(c.serialHex))).toContain(
      norm(serial),
    );

    // RenewalReq: the same directory holds cert.pem, so scepclient signs with it (no challenge).
    const before = readFileSync(enrolled.certFile, 'utf8');
    const renewed = await scepclient(app.scepUrl, { cn: 'device-one', dir: enrolled.dir });
    expect(renewed.code, renewed.stderr).toBe(0);
    const after = readFileSync(enrolled.certFile, 'utf8');
    expect(after).not.toBe(before);
    expect(await openssl(['verify', '-CAfile', caFile, enrolled.certFile])).toContain(': OK');
  });

  it('refuses a reused challenge with failInfo badRequest', async () => {
    const challenge = await mintChallenge();
    const first = await scepclient(app.scepUrl, { cn: 'device-two', challenge });
    expect(first.code, first.stderr).toBe(0);
    const second = await scepclient(app.scepUrl, { cn: 'device-three', challenge });
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toContain('failInfo: badRequest (2)');
    expect(existsSync(second.certFile)).toBe(false);
  });

  it('refuses a wrong challenge and a missing challenge with failInfo badRequest', async () => {
    for (const challenge of ['not-a-real-challenge', undefined]) {
      const result = await scepclient(app.scepUrl, {
        cn: 'device-four',
        ...(challenge ? { challenge } : {}),
      });
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toContain('failInfo: badRequest (2)');
    }
    // The server stays healthy after refusals.
    expect((await fetch(`${app.adminUrl}/healthz`)).status).toBe(200);
  });

  // After real enrollments, with the appliance still running (so SQLite's -wal and -shm exist):
  // the data directory holds nothing readable by others, the admin API's socket included.
  it('keeps every file in the data directory 0600 and every directory 0700', () => {
    const modes: Record<string, string> = {};
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const stat = lstatSync(path);
        modes[path.slice(app.dataDir.length + 1)] = (stat.mode & 0o777).toString(8);
        if (stat.isDirectory()) walk(path);
      }
    };
    walk(app.dataDir);
    expect(Object.keys(modes)).toEqual(
      expect.arrayContaining(['outpost.db', 'outpost.db-wal', 'outpost.db-shm', 'admin.sock', 'ca/ca.key']),
    );
    const open = Object.entries(modes).filter(([path, mode]) => {
      const isDir = lstatSync(join(app.dataDir, path)).isDirectory();
      return mode !== (isDir ? '700' : '600');
    });
    expect(open).toEqual([]);
  });

  // The probes port serves the probes only; the admin API is on the socket, used by the CLI.
  it('keeps the admin API off the probes port and reaches it through its socket', async () => {
    for (const path of ['/v1/sessions', '/%761/sessions']) {
      expect((await fetch(`${app.adminUrl}${path}`)).status).toBe(404);
    }
    const listed = await app.cli(['sessions', 'list', '--json']);
    // A connector-only appliance: the API answered (over admin.sock) that no gateway runs.
    expect(listed.code, listed.stderr).toBe(3);
    expect(listed.stderr).toContain('the gateway role is not running');
  });
});
