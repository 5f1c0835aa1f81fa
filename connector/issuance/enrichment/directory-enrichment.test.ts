import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCertificate, parseCertificate, randomSerial } from '../../../certs/certificate.js';
import { type ParsedCsr, parseCsr } from '../../../certs/csr.js';
import { buildCsr } from '../../../certs/csr-builder.js';
import { encodeSidExtension, SidOid, sidUri } from '../../../certs/sid-extension.js';
import { keyObjectSigner } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { LdapDirectory } from '../../../directory/ldap-directory.js';
import { DirectoryEnrichment } from './directory-enrichment.js';
import { compileEnrichment, type EnrichmentConfig } from './enrichment-plan.js';
import type { AccountIdentity, EnrichmentRequest, IdentityDirectory, LookupBy } from './ports.js';
import type { LookupSource } from './request-values.js';

// LdapDirectory is the production adapter of the port (checked by the compiler).
const _adapter: (d: LdapDirectory) => IdentityDirectory = (d) => d;

const SID = 'S-1-5-21-1004336348-1177238915-682003330-1105';
const ALICE: AccountIdentity = {
  dn: 'uid=alice,ou=people,dc=example,dc=test',
  userPrincipalName: 'alice@example.test',
  sAMAccountName: 'alice',
  objectSid: SID,
};

/** An in-memory directory: alice by every key, and the calls it saw. */
class FakeDirectory implements IdentityDirectory {
  calls: Array<[string, string]> = [];
  async findIdentity(by: LookupBy | 'objectSid', value: string): Promise<AccountIdentity> {
    this.calls.push([by, value]);
    const key = {
      upn: 'alice@example.test',
      mail: 'alice@example.test',
      sAMAccountName: 'alice',
      objectSid: SID,
    }[by];
    if (value !== key)
      throw new OutpostError(ErrorCodes.unauthorized, 'no directory account matches the request');
    return ALICE;
  }
}

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function csr(subject: string, sans: Partial<ParsedCsr['sans']> = {}): ParsedCsr {
  return parseCsr(buildCsr(subject, key, { sans }));
}

function enrichment(overrides: Partial<EnrichmentConfig>, directory = new FakeDirectory()) {
  const plan = compileEnrichment({
    directory: 'corp',
    lookupBy: 'sAMAccountName',
    lookupFrom: 'subjectCN',
    deviceIdFrom: 'challenge',
    sidMapping: 'extension',
    ...overrides,
  });
  return {
    step: new DirectoryEnrichment(new Map([['staff', plan]]), new Map([['corp', directory]])),
    directory,
  };
}

describe('directory enrichment step', () => {
  it('passes profiles without a directory through', async () => {
    const { step } = enrichment({});
    expect(step.enriches('device')).toBe(false);
    expect(await step.enrich('device', { csr: csr('CN=x'), claims: {} })).toBeUndefined();
  });

  it.each<[LookupSource, LookupBy, string, Partial<ParsedCsr['sans']>, EnrichmentRequest['claims'], string]>([
    ['subjectCN', 'sAMAccountName', 'CN=alice,O=Example', {}, {}, 'alice'],
    ['sanUpn', 'upn', 'CN=laptop', { upn: ['alice@example.test'] }, {}, 'alice@example.test'],
    ['sanEmail', 'mail', 'CN=laptop', { email: ['alice@example.test'] }, {}, 'alice@example.test'],
    ['challenge', 'upn', 'CN=laptop', {}, { userId: 'alice@example.test' }, 'alice@example.test'],
  ])('looks the user up from %s', async (lookupFrom, lookupBy, subject, sans, claims, value) => {
    const { step, directory } = enrichment({ lookupFrom, lookupBy });
    const issue = await step.enrich('staff', { csr: csr(subject, sans), claims });
    expect(directory.calls).toEqual([[lookupBy, value]]);
    expect(issue?.account).toBe(ALICE);
    expect(issue?.extraExtensions[0]?.oid).toBe(SidOid.extension);
  });

  it('takes DeviceId from the challenge or the CSR subject', async () => {
    for (const [deviceIdFrom, subject, claims, want] of [
      ['challenge', 'CN=alice', { deviceId: 'dev-7' }, 'dev-7'],
      ['subjectCN', 'CN=alice', {}, 'alice'],
      ['subjectSerialNumber', 'CN=alice,serialNumber=SN123', {}, 'SN123'],
    ] as const) {
      const { step } = enrichment({
        deviceIdFrom,
        sanTemplates: [{ type: 'uri', value: 'urn:dev:{{DeviceId}}' }],
      });
      const issue = await step.enrich('staff', { csr: csr(subject), claims });
      expect(issue?.sans.uri).toEqual([`urn:dev:${want}`]);
    }
  });

  it('refuses a request that names no user, and passes directory refusals on unchanged', async () => {
    const { step } = enrichment({ lookupFrom: 'challenge' });
    await expect(step.enrich('staff', { csr: csr('CN=alice'), claims: {} })).rejects.toMatchObject({
      code: ErrorCodes.badRequest,
      message: expect.stringMatching(/does not name a user.*challenge/),
    });
    const other = enrichment({});
    await expect(other.step.enrich('staff', { csr: csr('CN=mallory'), claims: {} })).rejects.toMatchObject({
      code: ErrorCodes.unauthorized,
    });
  });

  it('a renewal finds the account by the SID its certificate carries (extension or URI)', async () => {
    const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = keyObjectSigner(issuer.privateKey, issuer.publicKey);
    for (const form of ['extension', 'uri'] as const) {
      const der = buildCertificate(
        {
          subject: 'CN=renamed-since',
          spkiDer: csr('CN=x').spkiDer,
          serial: randomSerial(),
          notBefore: new Date(0),
          notAfter: new Date(2 ** 41),
          isCa: false,
          keyUsage: [],
          eku: [],
          ...(form === 'uri'
            ? { sans: { dns: [], email: [], uri: [sidUri(SID)], ip: [], upn: [] } }
            : {
                extraExtensions: [{ oid: SidOid.extension, critical: false, value: encodeSidExtension(SID) }],
              }),
        },
        signer,
        'sha256',
      );
      const { step, directory } = enrichment({});
      await step.enrich('staff', {
        csr: csr('CN=someone-else'),
        claims: {},
        renewing: parseCertificate(der),
      });
      expect(directory.calls).toEqual([['objectSid', SID]]);
    }
  });

  it('refuses a plan that names an unknown directory', () => {
    const plan = compileEnrichment({
      directory: 'nope',
      lookupBy: 'upn',
      lookupFrom: 'challenge',
      deviceIdFrom: 'challenge',
      sidMapping: 'none',
    });
    expect(() => new DirectoryEnrichment(new Map([['p', plan]]), new Map())).toThrow(/unknown directory/);
  });
});
