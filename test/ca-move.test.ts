import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliPath } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';

requirePeers('openssl');

// Moving a CA with file keys to another node with the CLI alone: `outpost ca export --pkcs12`
// on node A, `outpost ca import FILE` on node B. The password comes from a file (a prompt on a
// terminal), never from the command line.
describe('outpost ca export / ca import between two data directories', () => {
  let work: string;
  const node = (name: string) => {
    const dataDir = join(work, name);
    const configFile = join(work, `${name}.yaml`);
    writeFileSync(configFile, stringify({ dataDir, roles: ['connector'], log: { level: 'warn' } }));
    return (args: string[]) =>
      run(process.execPath, [cliPath, ...args, '--config', configFile], { timeoutMs: 60_000 });
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'outpost-ca-move-'));
    writeFileSync(join(work, 'pw'), 'correct horse battery\n', { mode: 0o600 });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('exports A (0600 file, openssl reads it) and imports it on B: same CA, same RA', async () => {
    const a = node('a');
    const b = node('b');
    expect((await a(['ca', 'init', '--key-algorithm', 'rsa-2048'])).code).toBe(0);
    const p12 = join(work, 'ca.p12');
    const exported = await a([
      'ca',
      'export',
      '--pkcs12',
      p12,
      '--password-file',
      join(work, 'pw'),
      '--json',
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toEqual({ file: p12, caSubject: 'CN=Outpost Root CA,O=Outpost' });
    expect(statSync(p12).mode & 0o777).toBe(0o600);
    const listed = await openssl(['pkcs12', '-in', p12, '-passin', 'pass:correct horse battery', '-nokeys']);
    expect(listed.match(/BEGIN CERTIFICATE/g)).toHaveLength(3); // CA, RA, and the RA's chain (the CA)

    // not over an existing file without --force; not without a password source off a terminal
    const again = await a(['ca', 'export', '--pkcs12', p12, '--password-file', join(work, 'pw')]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('exists (use --force to replace it)');
    const noPassword = await a(['ca', 'export', '--pkcs12', join(work, 'other.p12')]);
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toContain('no terminal to ask for the password on: give --password-file');

    const imported = await b(['ca', 'import', p12, '--password-file', join(work, 'pw')]);
    expect(imported.code, imported.stderr).toBe(0);
    const shown = async (n: typeof a) => JSON.parse((await n(['ca', 'show', '--json'])).stdout);
    expect((await shown(b)).fingerprintSha256).toBe((await shown(a)).fingerprintSha256);
    for (const file of ['ca.pem', 'ra.pem', 'ra.key']) {
      expect(readFileSync(join(work, 'b', 'ca', file), 'utf8')).toBe(
        readFileSync(join(work, 'a', 'ca', file), 'utf8'),
      );
    }
    expect(statSync(join(work, 'b', 'ca', 'ca.key')).mode & 0o777).toBe(0o600);
  });
});
