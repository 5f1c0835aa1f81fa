import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { linkDir } from './enroll/agent-files.js';
import { AgentRenewal, renewalDue } from './renewal.js';
import { LinkTestPki } from './testing/link-pki.js';

const logger = pino({ level: 'silent' });
let pki: LinkTestPki;
let other: LinkTestPki;

beforeAll(() => {
  pki = new LinkTestPki('appl-renew');
  other = new LinkTestPki('appl-renew');
});
afterAll(() => {
  pki.cleanup();
  other.cleanup();
});
beforeEach(() => pki.enroll('https://cloud.test'));

const renewal = (fraction: number, clock?: () => Date) =>
  new AgentRenewal({
    dataDir: pki.dataDir,
    fraction,
    cloudCa: pki.read('ca.pem'),
    logger,
    ...(clock ? { clock } : {}),
  });

/** Sends `renew` into a variable, as the session would, and returns the CSR and ref. */
async function requestRenewal(r: AgentRenewal) {
  let csr = '';
  const sent = await r.maybeRenew((pem) => {
    csr = pem;
    return 'renew-1';
  });
  return { sent, csr };
}

describe('renewalDue', () => {
  it.each([
    [2 / 3, '2025-01-21T00:00:00.000Z'],
    [0.5, '2025-01-16T00:00:00.000Z'],
    [0, '2025-01-01T00:00:00.000Z'],
  ])('at %d of a 30-day lifetime', (fraction, due) => {
    const validity = {
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2025-01-31T00:00:00Z'),
    };
    expect(renewalDue(validity, fraction).toISOString()).toBe(due);
  });
});

describe('AgentRenewal', () => {
  it('does nothing before the renewal is due', async () => {
    expect((await requestRenewal(renewal(0.95))).sent).toBe(false);
  });

  it('renews with a new key and installs the certificate the cloud answers', async () => {
    const r = renewal(0);
    const { sent, csr } = await requestRenewal(r);
    expect(sent).toBe(true);
    // Asked twice before an answer: one renew in flight at a time.
    expect((await requestRenewal(r)).sent).toBe(false);
    const certificate = pki.signAgentCsr(csr);
    const notAfter = r.complete({ ref: 'renew-1', certificate, chain: [pki.read('ca.pem')] });
    expect(notAfter).toBeInstanceOf(Date);
    const key = readFileSync(join(linkDir(pki.dataDir), 'agent.key'), 'utf8');
    expect(key).not.toBe(pki.read('agent.key'));
    expect(r.credentials().cert).toContain(certificate.trim());
    expect(r.renewals).toBe(1);
  });

  it.each([
    [
      'names another renew',
      (csr: string) => ({ ref: 'other', certificate: pki.signAgentCsr(csr), chain: [] }),
    ],
    ['is for another key', () => ({ ref: 'renew-1', certificate: pki.read('agent.pem'), chain: [] })],
    [
      'is for another appliance',
      (csr: string) => ({
        ref: 'renew-1',
        certificate: pki.signAgentCsr(csr, undefined, '/CN=intruder'),
        chain: [],
      }),
    ],
    [
      'is signed by another CA',
      (csr: string) => ({ ref: 'renew-1', certificate: other.signAgentCsr(csr), chain: [] }),
    ],
  ])('keeps the current certificate when the answer %s', async (_name, answer) => {
    const r = renewal(0);
    const { csr } = await requestRenewal(r);
    const before = r.credentials();
    expect(r.complete(answer(csr))).toBeUndefined();
    expect(r.credentials()).toEqual(before);
  });

  it('asks again after the cloud refused the renew', async () => {
    const r = renewal(0);
    await requestRenewal(r);
    expect(r.refused('renew-1')).toBe(true);
    expect((await requestRenewal(r)).sent).toBe(true);
  });

  it('asks again when the answer never came within its time limit', async () => {
    let now = Date.now();
    const r = renewal(0, () => new Date(now));
    await requestRenewal(r);
    now += 61_000;
    expect((await requestRenewal(r)).sent).toBe(true);
  });
});
