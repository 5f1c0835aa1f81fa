import { describe, expect, it } from 'vitest';
import { nameFromDer } from '../../../certs/name.js';
import type { ParsedCertificate } from '../../../certs/parsed-certificate.js';
import { emptySans } from '../../../certs/sans.js';
import { decodeSidExtension, SidOid } from '../../../certs/sid-extension.js';
import { ErrorCodes, type OutpostError } from '../../../core/errors.js';
import {
  compileEnrichment,
  type EnrichmentConfig,
  renderEnrichment,
  renewEnrichment,
  templateValues,
} from './enrichment-plan.js';
import type { AccountIdentity } from './ports.js';

const SID = 'S-1-5-21-1004336348-1177238915-682003330-1106';
const ACCOUNT: AccountIdentity = {
  dn: 'CN=Smith\\, John,OU=Staff,DC=corp,DC=test',
  userPrincipalName: 'jsmith@corp.test',
  mail: 'john.smith@corp.test',
  sAMAccountName: 'jsmith',
  objectSid: SID,
};

function config(overrides: Partial<EnrichmentConfig> = {}): EnrichmentConfig {
  return {
    directory: 'corp',
    lookupBy: 'upn',
    lookupFrom: 'challenge',
    deviceIdFrom: 'challenge',
    sidMapping: 'none',
    ...overrides,
  };
}

const CSR_SANS = { ...emptySans(), dns: ['from-csr.test'] };

describe('enrichment plan', () => {
  it('maps the account to the Intune variables', () => {
    expect(templateValues(ACCOUNT, 'dev-1')).toEqual({
      OnPrem_Distinguished_Name: ACCOUNT.dn,
      UserPrincipalName: 'jsmith@corp.test',
      EmailAddress: 'john.smith@corp.test',
      onPremisesSamAccountName: 'jsmith',
      OnPremisesSecurityIdentifier: SID,
      DeviceId: 'dev-1',
    });
    expect(templateValues({ dn: 'uid=x' }, undefined)).toEqual({ OnPrem_Distinguished_Name: 'uid=x' });
  });

  it.each([
    ['none', [], []],
    ['uri', [`tag:microsoft.com,2022-09-14:sid:${SID}`], []],
    ['extension', [], [SidOid.extension]],
    ['both', [`tag:microsoft.com,2022-09-14:sid:${SID}`], [SidOid.extension]],
  ] as const)('sidMapping %s', (sidMapping, uris, extensionOids) => {
    const issue = renderEnrichment(compileEnrichment(config({ sidMapping })), ACCOUNT, {
      csrSans: CSR_SANS,
      deviceId: undefined,
    });
    expect(issue.subject).toBeUndefined(); // no template: the CSR's subject
    expect(issue.sans.dns).toEqual(['from-csr.test']); // no SAN templates: the CSR's SANs
    expect(issue.sans.uri).toEqual(uris);
    expect(issue.extraExtensions.map((e) => e.oid)).toEqual(extensionOids);
    for (const e of issue.extraExtensions) {
      expect(e.critical).toBe(false);
      expect(decodeSidExtension(e.valueDer)).toBe(SID);
    }
    expect(CSR_SANS.uri).toEqual([]); // the CSR's SANs are not modified
  });

  it('renders subject and SAN templates, then adds the SID URI', () => {
    const plan = compileEnrichment(
      config({
        subjectTemplate: 'CN={{onPremisesSamAccountName}},OU={{OnPrem_Distinguished_Name}},O=Example',
        sanTemplates: [
          { type: 'upn', value: '{{UserPrincipalName}}' },
          { type: 'uri', value: 'urn:device:{{DeviceId}}' },
        ],
        sidMapping: 'both',
      }),
    );
    const issue = renderEnrichment(plan, ACCOUNT, { csrSans: CSR_SANS, deviceId: 'dev-9' });
    // the DN stays one OU value: its comma and backslash are escaped, not separators
    expect(nameFromDer(issue.subject!.der).text).toBe(
      String.raw`CN=jsmith,OU=CN=Smith\\\, John\,OU=Staff\,DC=corp\,DC=test,O=Example`,
    );
    expect(issue.subject!.rdns[1]).toEqual([{ oid: '2.5.4.11', value: ACCOUNT.dn }]);
    expect(issue.sans).toEqual({
      ...emptySans(),
      upn: ['jsmith@corp.test'],
      uri: ['urn:device:dev-9', `tag:microsoft.com,2022-09-14:sid:${SID}`],
    });
  });

  it('a renewal keeps the subject and SANs and writes the SID mapping afresh', () => {
    const previous = {
      subject: { rdns: [], text: 'CN=kept', der: Buffer.from('300e310c300a06035504030c036b6570', 'hex') },
      sans: {
        ...emptySans(),
        dns: ['kept.test'],
        uri: [
          'urn:kept',
          'tag:microsoft.com,2022-09-14:sid:S-1-5-21-1',
          'tag:microsoft.com,2022-09-14:sid:bad',
        ],
      },
    } as unknown as ParsedCertificate;
    const issue = renewEnrichment(compileEnrichment(config({ sidMapping: 'both' })), ACCOUNT, previous);
    expect(issue.subject).toBe(previous.subject);
    expect(issue.sans).toEqual({
      ...emptySans(),
      dns: ['kept.test'],
      uri: ['urn:kept', `tag:microsoft.com,2022-09-14:sid:${SID}`],
    });
    expect(issue.extraExtensions.map((e) => decodeSidExtension(e.valueDer))).toEqual([SID]);
  });

  it('refuses an account without a SID when the profile maps by SID', () => {
    let error: OutpostError | undefined;
    try {
      renderEnrichment(
        compileEnrichment(config({ sidMapping: 'extension' })),
        { dn: 'uid=x' },
        {
          csrSans: CSR_SANS,
          deviceId: undefined,
        },
      );
    } catch (e) {
      error = e as OutpostError;
    }
    expect(error?.code).toBe(ErrorCodes.badRequest);
    expect(error?.message).toMatch(/no SID for the strong mapping: uid=x/);
  });

  it('refuses bad templates at compile time', () => {
    expect(() => compileEnrichment(config({ subjectTemplate: 'CN={{Nope}}' }))).toThrow(
      /unknown template variable/,
    );
    expect(() => compileEnrichment(config({ sanTemplates: [{ type: 'dns', value: '{{x' }] }))).toThrow(
      /unclosed/,
    );
  });
});
