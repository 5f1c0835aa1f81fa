import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair, type KeyAlgorithm } from '../../certs/keys.js';
import { BuiltinCa } from '../ca/builtin/builtin-ca.js';
import { SqliteChallengeStore } from '../store/challenge-store.js';
import { openDatabase } from '../store/database.js';
import { SqliteInventory } from '../store/inventory.js';
import { SqlitePendingStore } from '../store/pending-store.js';
import { Authority } from './authority.js';
import { ChallengeVerifier } from './challenge/challenge-verifier.js';
import type { ProfilePolicy } from './profile-policy.js';

// Issue 11 #9: EC end-entity certificates must not carry keyEncipherment (RFC 5480 §3). What the
// built-in CA writes is read back with openssl.
const base: Omit<ProfilePolicy, 'name'> = {
  validityDays: 30,
  eku: ['clientAuth'],
  keyTypes: ['rsa', 'ec'],
  minRsaBits: 2048,
  approval: 'auto',
  allowedSanTypes: [],
};
const profiles: ProfilePolicy[] = [
  { ...base, name: 'by-key-type' },
  { ...base, name: 'listed', keyUsage: ['digitalSignature', 'keyEncipherment', 'dataEncipherment'] },
  { ...base, name: 'signing', keyUsage: ['digitalSignature', 'nonRepudiation'] },
];

const dir = mkdtempSync(join(tmpdir(), 'outpost-ku-'));
const dropped: Array<[string, string[], string]> = [];
let authority: Authority;

beforeAll(async () => {
  const db = openDatabase(':memory:');
  const inventory = new SqliteInventory(db);
  const ca = await BuiltinCa.open({ dir, keyAlgorithm: 'rsa-2048', inventory });
  const clock = () => new Date();
  authority = new Authority({
    backend: ca,
    inventory,
    pending: new SqlitePendingStore(db),
    challenges: new ChallengeVerifier({
      staticChallenge: null,
      oneTime: false,
      store: new SqliteChallengeStore(db),
      clock,
    }),
    profiles: new Map(profiles.map((p) => [p.name, p])),
    defaultProfile: 'by-key-type',
    clock,
    events: { keyUsageDropped: (profile, usages, requester) => dropped.push([profile, usages, requester]) },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyUsageText(der: Buffer): string {
  const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-ext', 'keyUsage'], {
    input: der,
  }).toString();
  return text.split('\n')[1]!.trim();
}

describe('key usage by key type', () => {
  it.each<[KeyAlgorithm, string, string, string[] | undefined]>([
    ['rsa-2048', 'by-key-type', 'Digital Signature, Key Encipherment', undefined],
    ['ec-p256', 'by-key-type', 'Digital Signature', undefined],
    ['rsa-2048', 'listed', 'Digital Signature, Key Encipherment, Data Encipherment', undefined],
    ['ec-p256', 'listed', 'Digital Signature', ['keyEncipherment', 'dataEncipherment']],
    ['ec-p384', 'signing', 'Digital Signature, Non Repudiation', undefined],
  ])('%s under %s → %s', async (algorithm, profile, expected, droppedUsages) => {
    dropped.length = 0;
    const key = await generateKeyPair(algorithm);
    const csr = parseCsr(buildCsr(`CN=${algorithm}-${profile}`, key, {}));
    const record = await authority.issueDirect({ csr, profile, requester: `test:${algorithm}` });
    expect(keyUsageText(record.der)).toBe(expected);
    expect(dropped).toEqual(droppedUsages ? [[profile, droppedUsages, `test:${algorithm}`]] : []);
  });

  it('does not refuse an EC CSR that asks for keyEncipherment, and does not issue it', async () => {
    const key = await generateKeyPair('ec-p256');
    const csr = parseCsr(buildCsr('CN=ec-asks', key, { keyUsage: ['digitalSignature', 'keyEncipherment'] }));
    const record = await authority.issueDirect({ csr, profile: 'by-key-type', requester: 'test:asks' });
    expect(keyUsageText(record.der)).toBe('Digital Signature');
  });
});
