import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-config-enrich-'));
let count = 0;

function load(tree: Record<string, unknown>) {
  const file = join(dir, `c${count++}.yaml`);
  writeFileSync(file, stringify({ roles: ['connector'], ...tree }));
  return loadConfig({ file, env: {} });
}

function problems(tree: Record<string, unknown>): string {
  try {
    load(tree);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems].join('\n');
  }
  throw new Error('expected a ConfigError');
}

const corp = { url: 'ldaps://dc.corp.test', baseDn: 'dc=corp,dc=test' };

function withProfile(profile: Record<string, unknown>, directories: Record<string, unknown> = { corp }) {
  return { directories, connector: { profiles: { device: {}, staff: profile } } };
}

describe('directory keys', () => {
  it('defaults to the Active Directory preset without overrides and a page size', () => {
    const d = load({ directories: { corp } }).directories.corp!;
    expect(d).toMatchObject({ schema: 'activeDirectory', attributes: {}, pageSize: 500 });
  });

  it('takes a preset and per-attribute overrides', () => {
    const d = load({
      directories: {
        corp: {
          ...corp,
          schema: 'openldap',
          attributes: {
            objectSid: 'objectSid',
            disabled: { attribute: 'employeeType', values: ['disabled'] },
          },
          pageSize: 100,
        },
      },
    }).directories.corp!;
    expect(d.schema).toBe('openldap');
    expect(d.attributes).toEqual({
      objectSid: 'objectSid',
      disabled: { attribute: 'employeeType', values: ['disabled'] },
    });
  });

  it.each([
    [{ attributes: { mail: 'not an attribute' } }, /attributes\.mail.*LDAP attribute name/],
    [{ attributes: { upn: 'x' } }, /attributes.*upn/],
    [{ schema: 'novell' }, /schema/],
    [{ pageSize: 0 }, /pageSize/],
  ])('refuses %j', (extra, message) => {
    expect(problems({ directories: { corp: { ...corp, ...extra } } })).toMatch(message);
  });
});

describe('profile enrichment keys', () => {
  it('accepts a full enrichment profile and fills in defaults', () => {
    const staff = load(
      withProfile({
        directory: 'corp',
        subjectTemplate: 'CN={{UserPrincipalName}},OU={{OnPrem_Distinguished_Name}},O=Example',
        sanTemplates: [
          { type: 'upn', value: '{{UserPrincipalName}}' },
          { type: 'email', value: '{{EmailAddress}}', optional: true },
        ],
        sidMapping: 'both',
      }),
    ).connector.profiles.staff!;
    expect(staff).toMatchObject({
      directory: 'corp',
      lookupBy: 'upn',
      lookupFrom: 'challenge',
      deviceIdFrom: 'challenge',
      sidMapping: 'both',
      sanTemplates: [
        { type: 'upn', value: '{{UserPrincipalName}}', optional: false },
        { type: 'email', value: '{{EmailAddress}}', optional: true },
      ],
    });
  });

  it.each([
    [
      'an unknown variable',
      { directory: 'corp', subjectTemplate: 'CN={{Department}}' },
      /subjectTemplate: got 'CN=\{\{Department\}\}', expected a valid template \(unknown template variable \{\{Department\}\}/,
    ],
    [
      'a subject that is no DN',
      { directory: 'corp', subjectTemplate: 'CN={{UserPrincipalName}}"' },
      /subjectTemplate.*RFC 4514/,
    ],
    [
      'an unknown SAN variable',
      { directory: 'corp', sanTemplates: [{ type: 'dns', value: '{{Host}}' }] },
      /sanTemplates\[0\]\.value: got '\{\{Host\}\}'.*unknown template variable/,
    ],
    [
      'an IP SAN template',
      { directory: 'corp', sanTemplates: [{ type: 'ip', value: '{{DeviceId}}' }] },
      /sanTemplates\[0\]\.type: got 'ip'/,
    ],
    [
      'templates without a directory',
      { subjectTemplate: 'CN={{UserPrincipalName}}' },
      /subjectTemplate: got .*expected no subjectTemplate without directory/,
    ],
    [
      'SID mapping without a directory',
      { sidMapping: 'uri' },
      /sidMapping: got 'uri', expected none without directory/,
    ],
    [
      'an unknown directory',
      { directory: 'nope' },
      /profiles\.staff\.directory.*expected the name of an entry under directories \(corp\)/,
    ],
    [
      'manual approval with a challenge lookup',
      { directory: 'corp', approval: 'manual' },
      /lookupFrom: got 'challenge', expected .*approval manual/,
    ],
    [
      'manual approval with a challenge DeviceId',
      { directory: 'corp', approval: 'manual', lookupFrom: 'subjectCN', subjectTemplate: 'CN={{DeviceId}}' },
      /deviceIdFrom: got 'challenge', expected .*approval manual/,
    ],
    ['an unknown sidMapping', { directory: 'corp', sidMapping: 'sometimes' }, /sidMapping/],
  ])('refuses %s', (_why, profile, message) => {
    expect(problems(withProfile(profile))).toMatch(message);
  });

  it('manual approval works with lookups from the CSR', () => {
    expect(
      load(
        withProfile({
          directory: 'corp',
          approval: 'manual',
          lookupFrom: 'subjectCN',
          lookupBy: 'sAMAccountName',
        }),
      ).connector.profiles.staff,
    ).toMatchObject({ approval: 'manual', lookupFrom: 'subjectCN' });
  });
});
