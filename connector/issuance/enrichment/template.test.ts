import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { parseTemplate, renderTemplate, templateVariables } from './template.js';
import { TEMPLATE_VARIABLES } from './variables.js';

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

describe('template parser properties', () => {
  it('any text parses or is refused as a config error, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1100 }), (text) => {
        try {
          parseTemplate(text);
        } catch (e) {
          expect(e).toBeInstanceOf(OutpostError);
          expect((e as OutpostError).code).toBe(ErrorCodes.config);
        }
      }),
    );
  });

  it('literals and variables written out parse back and render to the same text', () => {
    const literal = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((t) => !t.includes('{') && !t.includes('}'));
    const piece = fc.oneof(
      literal,
      fc.constantFrom(...TEMPLATE_VARIABLES).map((variable) => ({ variable })),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.map((p) => (typeof p === 'string' ? p : `{{${p.variable}}}`)).join('');
        const t = parseTemplate(text);
        const values = Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, `<${v}>`]));
        expect(renderTemplate(t, values)).toBe(
          pieces.map((p) => (typeof p === 'string' ? p : `<${p.variable}>`)).join(''),
        );
        expect(templateVariables(t).sort()).toEqual(
          [...new Set(pieces.flatMap((p) => (typeof p === 'string' ? [] : [p.variable])))].sort(),
        );
      }),
    );
  });
});
