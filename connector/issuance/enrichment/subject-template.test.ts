import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nameFromDer, parseDn } from '../../../certs/name.js';
import { Oid } from '../../../certs/oids.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { compileSubjectTemplate, escapeDnValue, renderSubject } from './subject-template.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof OutpostError ? e.code : 'not an OutpostError';
  }
  return undefined;
}

/** Values as parsed back from the DER the subject encodes to, most specific RDN first. */
function valuesOf(der: Buffer): Array<[string, string]> {
  return nameFromDer(der)
    .rdns.slice()
    .reverse()
    .flat()
    .map((a) => [a.oid, a.value]);
}

describe('RFC 4514 escaping of directory values', () => {
  it.each([
    ['Smith, John', 'Smith\\, John'],
    ['a+b', 'a\\+b'],
    ['say "hi"', 'say \\"hi\\"'],
    ['#1 fan', '\\#1 fan'],
    ['mid#hash', 'mid#hash'],
    [' lead', '\\ lead'],
    ['trail ', 'trail\\ '],
    ['<a>;b\\c', '\\<a\\>\\;b\\\\c'],
    ['a=b', 'a=b'], // '=' needs no escape in a value (RFC 4514 §2.4)
    ['nul\0', 'nul\\00'],
    ['Müller', 'Müller'],
  ])('%j → %j', (value, escaped) => {
    expect(escapeDnValue(value)).toBe(escaped);
  });

  it('a DN with a comma and a plus sign stays one CN value', () => {
    const t = compileSubjectTemplate('CN={{OnPrem_Distinguished_Name}},O=Example');
    const dn = 'CN=Smith\\, John+Admin,OU=Staff\\+Temps,DC=corp,DC=test';
    const subject = renderSubject(t, { OnPrem_Distinguished_Name: dn });
    expect(valuesOf(subject.der)).toEqual([
      [Oid.commonName, dn],
      [Oid.organizationName, 'Example'],
    ]);
  });

  it('any value round-trips through the template, parseDn and the DER name parser', () => {
    const t = compileSubjectTemplate(
      'CN={{UserPrincipalName}},OU={{OnPrem_Distinguished_Name}}+UID={{DeviceId}},O=Example',
    );
    const value = fc
      .string({ unit: 'binary', minLength: 1, maxLength: 64 })
      .filter((v) => Buffer.from(v, 'utf8').toString('utf8') === v); // no lone surrogates
    fc.assert(
      fc.property(value, value, value, (upn, dn, device) => {
        const subject = renderSubject(t, {
          UserPrincipalName: upn,
          OnPrem_Distinguished_Name: dn,
          DeviceId: device,
        });
        expect(valuesOf(subject.der)).toEqual([
          [Oid.commonName, upn],
          [Oid.organizationalUnitName, dn],
          [Oid.userId, device],
          [Oid.organizationName, 'Example'],
        ]);
        // and the printed form parses back to the same name
        expect(parseDn(subject.text).der.equals(subject.der)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('subject template validation (config time)', () => {
  it.each([
    ['CN={{UserPrincipalName}},OU=Staff,O=Example'],
    ['CN={{onPremisesSamAccountName}}+serialNumber={{DeviceId}}'],
    ['E={{EmailAddress}},CN={{UserPrincipalName}}'],
    ['CN=fixed'],
  ])('accepts %s', (text) => {
    expect(() => compileSubjectTemplate(text)).not.toThrow();
  });

  it.each([
    ['{{DeviceId}}=x', 'variable in the attribute type'],
    ['CN={{Manager}}', 'unknown variable'],
    ['FOO={{UserPrincipalName}}', 'unknown attribute type'],
    ['CN={{UserPrincipalName}}"', 'unescaped quote'],
    ['', 'empty'],
  ])('refuses %s (%s)', (text) => {
    expect(codeOf(() => compileSubjectTemplate(text))).toBe(ErrorCodes.config);
  });

  it('refuses, per request, a value its attribute cannot encode', () => {
    const t = compileSubjectTemplate('E={{EmailAddress}}');
    expect(codeOf(() => renderSubject(t, { EmailAddress: 'jürgen@example.test' }))).toBe(
      ErrorCodes.badRequest,
    );
    expect(codeOf(() => renderSubject(t, {}))).toBe(ErrorCodes.badRequest);
  });
});
