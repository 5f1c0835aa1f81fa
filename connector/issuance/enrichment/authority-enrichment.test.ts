import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../certs/certificate.js';
import { parseCsr } from '../../../certs/csr.js';
import { buildCsr } from '../../../certs/csr-builder.js';
import { decodeSidExtension, SidOid } from '../../../certs/sid-extension.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { BuiltinCa } from '../../ca/builtin/builtin-ca.js';
import { SqliteChallengeStore } from '../../store/challenge-store.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { SqlitePendingStore } from '../../store/pending-store.js';
import { Authority } from '../authority.js';
import { ChallengeVerifier } from '../challenge/challenge-verifier.js';
import type { ProfilePolicy } from '../profile-policy.js';
import { DirectoryEnrichment } from './directory-enrichment.js';
import { compileEnrichment } from './enrichment-plan.js';
import type { AccountIdentity, IdentityDirectory, LookupBy } from './ports.js';

const SID = 'S-1-5-21-1004336348-1177238915-682003330-1105';
const STATIC = 'static-challenge';

/** Accounts by sAMAccountName; `disabled` ones are refused the way LdapDirectory refuses them. */
class FakeDirectory implements IdentityDirectory {
  readonly calls: Array<[string, string]> = [];
  disabled = new Set<string>();
  readonly accounts: AccountIdentity[] = [
    {
      dn: 'uid=smith\\2C john\\2Badmin,ou=people,dc=example,dc=test',
      userPrincipalName: 'jsmith@example.test',
      mail: 'john.smith@example.test',
      sAMAccountName: 'jsmith',
      objectSid: SID,
    },
  ];
  async findIdentity(by: LookupBy | 'objectSid', value: string): Promise<AccountIdentity> {
    this.calls.push([by, value]);
    const found = this.accounts.find((a) => (by === 'objectSid' ? a.objectSid : a.sAMAccountName) === value);
    if (!found) throw new OutpostError(ErrorCodes.unauthorized, 'no directory account matches the request');
    if (this.disabled.has(found.sAMAccountName!))
      throw new OutpostError(ErrorCodes.unauthorized, 'the directory account is disabled');
    return found;
  }
}

const profile = (name: string, approval: 'auto' | 'manual' = 'auto'): ProfilePolicy => ({
  name,
  validityDays: 30,
  keyUsage: ['digitalSignature'],
  eku: ['clientAuth'],
  keyTypes: ['ec', 'rsa'],
  minRsaBits: 2048,
  approval,
  allowedSanTypes: ['dns', 'email', 'uri', 'upn'],
});

describe('Authority with directory enrichment (BuiltinCa)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-enrich-'));
  const db = openDatabase(':memory:');
  const inventory = new SqliteInventory(db);
  const pending = new SqlitePendingStore(db);
  const directory = new FakeDirectory();
  let authority: Authority;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let transaction = 0;

  beforeAll(async () => {
    const ca = await BuiltinCa.open({ dir: join(dir, 'ca'), keyAlgorithm: 'ec-p384', inventory });
    const clock = () => new Date();
    const plan = compileEnrichment({
      directory: 'corp',
      lookupBy: 'sAMAccountName',
      lookupFrom: 'subjectCN',
      deviceIdFrom: 'subjectSerialNumber',
      subjectTemplate: 'CN={{UserPrincipalName}},OU={{OnPrem_Distinguished_Name}},O=Example',
      sanTemplates: [
        { type: 'upn', value: '{{UserPrincipalName}}' },
        { type: 'uri', value: 'urn:device:{{DeviceId}}' },
      ],
      sidMapping: 'both',
    });
    authority = new Authority({
      backend: ca,
      inventory,
      pending,
      challenges: new ChallengeVerifier({
        staticChallenge: STATIC,
        oneTime: false,
        store: new SqliteChallengeStore(db),
        clock,
      }),
      profiles: new Map([
        ['staff', profile('staff')],
        ['device', profile('device')],
      ]),
      defaultProfile: 'staff',
      clock,
      enrichment: new DirectoryEnrichment(new Map([['staff', plan]]), new Map([['corp', directory]])),
    });
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const enroll = (subject: string) =>
    authority.enroll({
      csr: parseCsr(buildCsr(subject, key, { challengePassword: STATIC })),
      transactionId: `t-${++transaction}`,
      requester: 'test',
    });

  it('issues the templated subject, SANs and both SID mappings, and records them', async () => {
    const outcome = await enroll('CN=jsmith,serialNumber=DEV-1');
    expect(outcome.status).toBe('issued');
    if (outcome.status !== 'issued') return;
    const cert = parseCertificate(outcome.record.der);
    expect(cert.subject.rdns.map((rdn) => rdn.map((a) => a.value))).toEqual([
      ['Example'],
      [directory.accounts[0]!.dn],
      ['jsmith@example.test'],
    ]);
    expect(cert.sans.upn).toEqual(['jsmith@example.test']);
    expect(cert.sans.uri).toEqual(['urn:device:DEV-1', `tag:microsoft.com,2022-09-14:sid:${SID}`]);
    const ext = cert.extensions.find((e) => e.oid === SidOid.extension)!;
    expect(ext.critical).toBe(false);
    expect(decodeSidExtension(ext.value)).toBe(SID);
    expect(outcome.record.subject).toBe(cert.subject.text);
    expect(outcome.record.sans).toContain(`uri:tag:microsoft.com,2022-09-14:sid:${SID}`);
  });

  it('refuses missing and disabled accounts before the CA is asked', async () => {
    const before = await inventory.count();
    await expect(enroll('CN=nobody,serialNumber=DEV-2')).rejects.toMatchObject({
      code: ErrorCodes.unauthorized,
    });
    directory.disabled.add('jsmith');
    try {
      await expect(enroll('CN=jsmith,serialNumber=DEV-3')).rejects.toThrow(/disabled/);
    } finally {
      directory.disabled.clear();
    }
    expect(await inventory.count()).toBe(before);
  });

  it('renews an enriched certificate although the subject differs, finding the account by SID', async () => {
    const first = await enroll('CN=jsmith,serialNumber=DEV-4');
    if (first.status !== 'issued') throw new Error('not issued');
    directory.calls.length = 0;
    const renewed = await authority.renew({
      csr: parseCsr(buildCsr('CN=whatever-the-device-sends,serialNumber=DEV-4', key)),
      transactionId: `t-${++transaction}`,
      requester: 'test',
      signerCertDer: first.record.der,
    });
    expect(renewed.status).toBe('issued');
    expect(directory.calls).toEqual([['objectSid', SID]]);
    if (renewed.status !== 'issued') return;
    const [before, after] = [first, renewed].map((o) => parseCertificate(o.record.der));
    expect(after!.subject.der.equals(before!.subject.der)).toBe(true); // the same identity, a new key pair's worth
    expect(after!.sans).toEqual(before!.sans);
    expect(after!.extensions.find((e) => e.oid === SidOid.extension)?.value).toEqual(
      before!.extensions.find((e) => e.oid === SidOid.extension)?.value,
    );
    directory.disabled.add('jsmith');
    try {
      await expect(
        authority.renew({
          csr: parseCsr(buildCsr('CN=jsmith,serialNumber=DEV-4', key)),
          transactionId: `t-${++transaction}`,
          requester: 'test',
          signerCertDer: first.record.der,
        }),
      ).rejects.toThrow(/disabled/);
    } finally {
      directory.disabled.clear();
    }
  });

  it('leaves profiles without a directory alone', async () => {
    const outcome = await authority.issueDirect({
      csr: parseCsr(buildCsr('CN=plain-device', key)),
      profile: 'device',
      requester: 'job:1',
    });
    expect(parseCertificate(outcome.der).subject.text).toBe('CN=plain-device');
    expect(parseCertificate(outcome.der).extensions.some((e) => e.oid === SidOid.extension)).toBe(false);
  });
});
