import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LinkTestPki } from '../testing/link-pki.js';
import {
  completePendingSwap,
  isEnrolled,
  LinkFiles,
  linkDir,
  readAgentCredentials,
  readEnrolledCloudCa,
  readLinkState,
  replaceAgentCredentials,
  writeEnrollment,
} from './agent-files.js';

let pki: LinkTestPki;
let old: { key: string; cert: string };
let fresh: { key: string; cert: string };

const file = (name: string) => join(linkDir(pki.dataDir), name);
const state = {
  applianceId: 'appl-files',
  cloudUrl: 'https://cloud.test:7443',
  roles: ['connector' as const],
  enrolledAt: '2025-03-01T12:00:00.000Z',
};

beforeAll(() => {
  pki = new LinkTestPki('appl-files');
  old = { key: pki.read('agent.key'), cert: pki.read('agent.pem') };
  pki.request('next', { subject: '/CN=x' });
  fresh = { key: pki.read('next.key'), cert: pki.signAgentCsr(pki.read('next.csr'), 'next') };
});
afterAll(() => pki.cleanup());
beforeEach(() => {
  writeEnrollment(pki.dataDir, { ...old, cloudCa: pki.read('ca.pem'), state });
});

describe('enrollment files', () => {
  it('writes the key 0600 in a 0700 directory and reads everything back', () => {
    expect(statSync(file(LinkFiles.key)).mode & 0o777).toBe(0o600);
    expect(statSync(linkDir(pki.dataDir)).mode & 0o777).toBe(0o700);
    expect(isEnrolled(pki.dataDir)).toBe(true);
    expect(readLinkState(pki.dataDir)).toEqual(state);
    expect(readEnrolledCloudCa(pki.dataDir)).toBe(pki.read('ca.pem'));
    const creds = readAgentCredentials(pki.dataDir);
    expect(creds.key).toBe(old.key);
    expect(creds.notAfter.getTime()).toBeGreaterThan(creds.notBefore.getTime());
  });

  it('tightens a key restored with loose permissions', () => {
    chmodSync(file(LinkFiles.key), 0o644);
    readAgentCredentials(pki.dataDir);
    expect(statSync(file(LinkFiles.key)).mode & 0o777).toBe(0o600);
  });

  it.each([
    [
      'a certificate for another key',
      () => writeFileSync(file(LinkFiles.cert), fresh.cert),
      /does not match/,
    ],
    ['an invalid link.json', () => writeFileSync(file(LinkFiles.state), '{"applianceId": 1}'), /invalid/],
    ['a link.json that is not JSON', () => writeFileSync(file(LinkFiles.state), '{'), /not valid JSON/],
  ])('refuses %s as a config error', (_name, damage, message) => {
    damage();
    const read = () => {
      readLinkState(pki.dataDir);
      readAgentCredentials(pki.dataDir);
    };
    expect(read).toThrow(
      expect.objectContaining({ code: 'OUTPOST_ERR_CONFIG', message: expect.stringMatching(message) }),
    );
  });

  it('replaces key and certificate together', () => {
    replaceAgentCredentials(pki.dataDir, fresh.key, fresh.cert);
    expect(readAgentCredentials(pki.dataDir)).toMatchObject(fresh);
    expect(statSync(file(LinkFiles.key)).mode & 0o777).toBe(0o600);
    expect(existsSync(file(LinkFiles.nextKey)) || existsSync(file(LinkFiles.nextCert))).toBe(false);
  });

  // A crash between the steps of replaceAgentCredentials leaves one of these states on disk.
  it.each([
    ['both new files written, nothing moved', ['nextKey', 'nextCert'], 'fresh'],
    ['the key moved, the certificate not yet', ['key', 'nextCert'], 'fresh'],
    ['only the new key written', ['nextKey'], 'old'],
  ] as const)('after a crash with %s, loading gives a matching pair', (_name, written, which) => {
    const expected = which === 'fresh' ? fresh : old;
    for (const name of written) {
      const target = file(LinkFiles[name]);
      writeFileSync(target, name.toLowerCase().includes('key') ? fresh.key : fresh.cert, { mode: 0o600 });
    }
    expect(readAgentCredentials(pki.dataDir)).toMatchObject(expected);
    completePendingSwap(pki.dataDir);
    expect(existsSync(file(LinkFiles.nextKey)) || existsSync(file(LinkFiles.nextCert))).toBe(false);
    expect(readFileSync(file(LinkFiles.key), 'utf8')).toBe(expected.key);
  });
});
