import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { parseTemplate, renderTemplate, templateVariables } from './template.js';

describe('template parsing', () => {
  it.each([
    ['CN={{UserPrincipalName}}', ['CN=', { variable: 'UserPrincipalName' }]],
    ['{{ EmailAddress }}', [{ variable: 'EmailAddress' }]],
    // Intune's own spellings differ in case; any case means the same variable
    [
      '{{ONPREMISESSAMACCOUNTNAME}}-{{deviceid}}',
      [{ variable: 'onPremisesSamAccountName' }, '-', { variable: 'DeviceId' }],
    ],
    ['O=Example', ['O=Example']],
    ['', []],
    ['a}}b', ['a}}b']],
  ])('%s', (text, parts) => {
    expect(parseTemplate(text).parts).toEqual(parts);
  });

  it.each([
    ['{{Department}}', /unknown template variable \{\{Department\}\}.*known: UserPrincipalName/],
    ['CN={{UserPrincipalName}', /unclosed/],
    ['{{}}', /unknown template variable/],
    ['x'.repeat(1025), /longer than 1024/],
  ])('refuses %s as a config error', (text, message) => {
    let error: unknown;
    try {
      parseTemplate(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OutpostError);
    expect((error as OutpostError).code).toBe(ErrorCodes.config);
    expect((error as OutpostError).message).toMatch(message);
  });

  it('lists each variable once', () => {
    const t = parseTemplate('{{DeviceId}}.{{UserPrincipalName}}.{{deviceid}}');
    expect(templateVariables(t)).toEqual(['DeviceId', 'UserPrincipalName']);
  });
});

describe('template rendering', () => {
  const t = parseTemplate('{{onPremisesSamAccountName}}@{{DeviceId}}');

  it('fills in values through the escape function', () => {
    expect(renderTemplate(t, { onPremisesSamAccountName: 'jo', DeviceId: 'd1' })).toBe('jo@d1');
    expect(
      renderTemplate(t, { onPremisesSamAccountName: 'jo', DeviceId: 'd1' }, (v) => v.toUpperCase()),
    ).toBe('JO@D1');
  });

  it('refuses a missing or empty value with the variable and its source', () => {
    for (const values of [
      { onPremisesSamAccountName: 'jo' },
      { onPremisesSamAccountName: 'jo', DeviceId: '' },
    ]) {
      let error: unknown;
      try {
        renderTemplate(t, values);
      } catch (e) {
        error = e;
      }
      expect((error as OutpostError).code).toBe(ErrorCodes.badRequest);
      expect((error as OutpostError).message).toMatch(/no value for \{\{DeviceId\}\}.*deviceId claim/);
    }
  });
});
