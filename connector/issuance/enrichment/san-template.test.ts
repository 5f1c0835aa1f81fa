import { describe, expect, it } from 'vitest';
import { ErrorCodes, type OutpostError } from '../../../core/errors.js';
import { compileSanTemplate, renderSans, type SanTemplateConfig } from './san-template.js';
import type { TemplateValues } from './variables.js';

const VALUES: TemplateValues = {
  UserPrincipalName: 'smith@corp.test',
  EmailAddress: 'john.smith@corp.test',
  OnPrem_Distinguished_Name: 'CN=Smith\\, John+Admin,OU=Staff,DC=corp,DC=test',
  DeviceId: 'dev-42',
};

function render(configs: SanTemplateConfig[], values = VALUES) {
  return renderSans(configs.map(compileSanTemplate), values);
}

function refusal(configs: SanTemplateConfig[], values = VALUES): OutpostError {
  try {
    render(configs, values);
  } catch (e) {
    return e as OutpostError;
  }
  throw new Error('expected a refusal');
}

describe('SAN templates', () => {
  it('renders each type with raw values (a DN keeps its commas and escapes in a URI)', () => {
    expect(
      render([
        { type: 'upn', value: '{{UserPrincipalName}}' },
        { type: 'email', value: '{{EmailAddress}}' },
        { type: 'dns', value: '{{DeviceId}}.devices.corp.test' },
        { type: 'uri', value: 'ldap:///{{OnPrem_Distinguished_Name}}' },
      ]),
    ).toEqual({
      upn: ['smith@corp.test'],
      email: ['john.smith@corp.test'],
      dns: ['dev-42.devices.corp.test'],
      uri: ['ldap:///CN=Smith\\, John+Admin,OU=Staff,DC=corp,DC=test'],
      ip: [],
    });
  });

  it('drops duplicates and optional SANs whose variables have no value', () => {
    expect(
      render(
        [
          { type: 'email', value: '{{EmailAddress}}', optional: true },
          { type: 'upn', value: '{{UserPrincipalName}}' },
          { type: 'upn', value: '{{UserPrincipalName}}' },
        ],
        { UserPrincipalName: 'a@b' },
      ),
    ).toMatchObject({ email: [], upn: ['a@b'] });
  });

  it.each([
    [
      'a required value is missing',
      [{ type: 'email', value: '{{EmailAddress}}' }],
      { UserPrincipalName: 'x' },
    ],
    ['non-ASCII in an IA5 name', [{ type: 'dns', value: '{{DeviceId}}' }], { DeviceId: 'gerät' }],
    ['a space in a host name', [{ type: 'dns', value: '{{DeviceId}}' }], { DeviceId: 'a b' }],
    ['a control character in a URI', [{ type: 'uri', value: 'x:{{DeviceId}}' }], { DeviceId: 'a\nb' }],
    ['a control character in a UPN', [{ type: 'upn', value: '{{DeviceId}}' }], { DeviceId: 'a\0b' }],
    ['an over-long value', [{ type: 'uri', value: 'x:{{DeviceId}}' }], { DeviceId: 'a'.repeat(1024) }],
  ] as Array<[string, SanTemplateConfig[], TemplateValues]>)('refuses when %s', (_why, configs, values) => {
    expect(refusal(configs, values).code).toBe(ErrorCodes.badRequest);
  });

  it('a UPN takes any printable text (UTF8String)', () => {
    expect(
      render([{ type: 'upn', value: '{{UserPrincipalName}}' }], { UserPrincipalName: 'jürgen@corp.test' })
        .upn,
    ).toEqual(['jürgen@corp.test']);
  });
});
