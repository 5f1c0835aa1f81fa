import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { certmongerEnroll } from './testing/certmonger.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';

requirePeers('certmonger', 'getcert', 'dbus-run-session', 'openssl');

const scepSubmit = '/usr/lib/certmonger/scep-submit'; // Debian's path (not libexec)

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

// certmonger: its scep-submit helper standalone (GetCACaps, GetCACert), and the certmonger daemon
// doing a whole enrollment (it builds its own PKCSReq with SHA-256 + AES when advertised, and
// sends PKIOperation as GET with standard base64).
describe('certmonger against outpost', () => {
  let app: RunningAppliance;
  beforeAll(async () => {
    app = await startAppliance();
  });
  afterAll(async () => app?.stop());

  it('scep-submit reads GetCACaps and GetCACert (RA first, then the CA that signed it)', async () => {
    const caps = await run(scepSubmit, ['-u', app.scepUrl, '-c']);
    expect(caps.code, caps.stderr).toBe(0);
    const advertised = caps.stdout.split(/\s+/);
    for (const cap of ['POSTPKIOperation', 'SHA-256', 'AES', 'SCEPStandard', 'Renewal'])
      expect(advertised).toContain(cap);

    const certs = await run(scepSubmit, ['-u', app.scepUrl, '-C']);
    expect(certs.code, certs.stderr).toBe(0);
    const [ra, ca] = pemBlocks(certs.stdout);
    const dir = mkdtempSync(join(tmpdir(), 'outpost-cm-'));
    writeFileSync(join(dir, 'ra.pem'), ra!);
    writeFileSync(join(dir, 'ca.pem'), ca!);
    expect(await openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'ra.pem')])).toContain(': OK');
    expect(readFileSync(join(app.dataDir, 'ca', 'ca.pem'), 'utf8').trim()).toBe(ca!.trim());
  });

  it('the certmonger daemon enrolls with a one-time challenge', async () => {
    const challenge = (await app.cli(['scep', 'challenge', '--ttl', '600'])).stdout.trim();
    const caFile = join(app.dataDir, 'ca', 'ca.pem');
    const result = await certmongerEnroll({ scepUrl: app.scepUrl, caFile, challenge, cn: 'cm-device' });
    const list = result.list;
    expect(list, `${result.stdout}\n${result.stderr}\n${app.logs()}`).toContain('status: MONITORING');
    expect(await openssl(['verify', '-CAfile', caFile, result.certFile])).toContain(': OK');
    expect(await openssl(['x509', '-in', result.certFile, '-noout', '-subject'])).toContain('cm-device');
  });
});
