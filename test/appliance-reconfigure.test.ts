import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

/** Days between notBefore and notAfter of a PEM certificate, as openssl reads them. */
async function validityDays(certFile: string): Promise<number> {
  const text = await openssl(['x509', '-in', certFile, '-noout', '-startdate', '-enddate']);
  const start = Date.parse(/notBefore=(.+)/.exec(text)![1]!);
  const end = Date.parse(/notAfter=(.+)/.exec(text)![1]!);
  return Math.round((end - start) / 86_400_000);
}

function editConfig(app: RunningAppliance, edit: (tree: Record<string, any>) => void): void {
  const tree = parse(readFileSync(app.configFile, 'utf8')) as Record<string, any>;
  edit(tree);
  writeFileSync(app.configFile, stringify(tree));
}

// SIGHUP re-reads the config file; the connector applies a changed profile without a restart
// (a rolling replacement of its SCEP workers, or a listener reopen in one process), and an
// invalid file is refused with the running config kept. The real scepclient enrolls around it.
describe.each([
  ['a cluster of SCEP workers', 2],
  ['one process', 1],
])('SIGHUP reconfigures the connector running as %s', (_name, workers) => {
  let app: RunningAppliance | undefined;
  afterEach(async () => app?.stop());

  it('applies a new profile validity live and refuses an invalid file', async () => {
    app = await startAppliance({
      connector: {
        scep: { workers, challenge: { static: 'reload-secret' } },
        profiles: { device: { validityDays: 365 } },
      },
    });
    const first = await scepclient(app.scepUrl, { cn: 'before-reload', challenge: 'reload-secret' });
    expect(first.code, first.stderr).toBe(0);
    expect(await validityDays(first.certFile)).toBe(365);

    editConfig(app, (tree) => {
      tree.connector.profiles.device.validityDays = 30;
    });
    app.signal('SIGHUP');
    expect(await app.waitForLog('configuration applied', 20_000), app.logs()).toBe(true);
    expect(app.logs()).toContain('connector.profiles.device.validityDays');
    const second = await scepclient(app.scepUrl, { cn: 'after-reload', challenge: 'reload-secret' });
    expect(second.code, second.stderr).toBe(0);
    expect(await validityDays(second.certFile)).toBe(30);

    editConfig(app, (tree) => {
      tree.connector.profiles.device.validityDays = 'a month';
    });
    app.signal('SIGHUP');
    expect(await app.waitForLog('configuration not reloaded', 20_000), app.logs()).toBe(true);
    const third = await scepclient(app.scepUrl, { cn: 'after-refusal', challenge: 'reload-secret' });
    expect(third.code, third.stderr).toBe(0);
    expect(await validityDays(third.certFile)).toBe(30);
    const ready = await fetch(`${app.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
  });
});
