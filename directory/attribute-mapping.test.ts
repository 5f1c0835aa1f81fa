import type { Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_PRESETS, attributeMapping, isDisabled, mappedAttributes } from './attribute-mapping.js';
import { identityFromEntry, sidFromValue } from './directory-identity.js';
import { entryAttributes } from './entry-attributes.js';
import { ldapDirectorySettings } from './ldap-directory-config.js';

const SID = 'S-1-5-21-1004336348-1177238915-682003330-1106';
const SID_HEX = '010500000000000515000000dcf4dc3b833d2b46828ba62852040000';

describe('attribute mapping presets', () => {
  it('Active Directory reads the AD attributes and userAccountControl', () => {
    expect(attributeMapping('activeDirectory')).toEqual({
      userPrincipalName: 'userPrincipalName',
      mail: 'mail',
      sAMAccountName: 'sAMAccountName',
      objectSid: 'objectSid',
      userAccountControl: 'userAccountControl',
      disabled: null,
    });
  });

  it('OpenLDAP maps UPN to mail, the account name to uid, the SID to sambaSID, ppolicy locks', () => {
    expect(attributeMapping('openldap')).toEqual({
      userPrincipalName: 'mail',
      mail: 'mail',
      sAMAccountName: 'uid',
      objectSid: 'sambaSID',
      userAccountControl: null,
      disabled: { attribute: 'pwdAccountLockedTime', values: [] },
    });
  });

  it('overrides replace single keys and never mutate the preset', () => {
    const m = attributeMapping('openldap', {
      objectSid: 'objectSid',
      disabled: { attribute: 'employeeType', values: ['disabled'] },
      mail: undefined,
    });
    expect(m).toMatchObject({ objectSid: 'objectSid', mail: 'mail', sAMAccountName: 'uid' });
    expect(m.disabled).toEqual({ attribute: 'employeeType', values: ['disabled'] });
    expect(ATTRIBUTE_PRESETS.openldap.disabled).toEqual({ attribute: 'pwdAccountLockedTime', values: [] });
    expect(mappedAttributes(m)).toEqual(['mail', 'mail', 'uid', 'objectSid', 'employeeType']);
  });

  it('directory settings default to the AD preset', () => {
    const s = ldapDirectorySettings({ url: 'ldap://dc', baseDn: 'dc=x', pageSize: 50 });
    expect(s.mapping.userAccountControl).toBe('userAccountControl');
    const search = ldapDirectorySettings({
      url: 'ldap://dc',
      baseDn: 'dc=x',
      pageSize: 50,
      groups: { from: 'search' },
      schema: 'openldap',
    });
    expect(search.groups).toMatchObject({ pageSize: 50 });
    expect(search.mapping.sAMAccountName).toBe('uid');
  });
});

describe('disabled accounts', () => {
  const ad = attributeMapping('activeDirectory');
  it.each([
    [undefined, false],
    ['512', false], // NORMAL_ACCOUNT
    ['514', true], // NORMAL_ACCOUNT | ACCOUNTDISABLE
    ['66050', true], // + DONT_EXPIRE_PASSWORD
    ['66048', false],
    ['-2147483646', true], // AD prints the signed 32-bit value: 0x80000002
    ['2', true],
    ['', true], // unreadable flag: refuse rather than let through
    ['disabled', true],
  ])('AD userAccountControl %s → %s', (uac, disabled) => {
    expect(isDisabled(ad, uac === undefined ? {} : { useraccountcontrol: [uac] })).toBe(disabled);
  });

  it('an OpenLDAP flag attribute matches its configured values case-insensitively, or presence', () => {
    const byValue = attributeMapping('openldap', {
      disabled: { attribute: 'employeeType', values: ['Disabled', 'terminated'] },
    });
    expect(isDisabled(byValue, { employeetype: ['staff'] })).toBe(false);
    expect(isDisabled(byValue, { employeetype: ['staff', 'DISABLED'] })).toBe(true);
    expect(isDisabled(byValue, {})).toBe(false);
    const byPresence = attributeMapping('openldap');
    expect(isDisabled(byPresence, { pwdaccountlockedtime: ['000001010000Z'] })).toBe(true);
    expect(isDisabled(byPresence, { pwdaccountlockedtime: [] })).toBe(false);
  });
});

describe('identity from an entry', () => {
  it.each([
    ['binary objectSid', Buffer.from(SID_HEX, 'hex'), SID],
    ['text sambaSID', SID, SID],
    ['text as bytes', Buffer.from(SID), SID],
    ['non-canonical text (leading zero)', 'S-1-5-021', undefined],
    ['malformed binary', Buffer.from(SID_HEX.slice(0, -2), 'hex'), undefined],
    ['absent', undefined, undefined],
  ])('reads the SID from %s', (_name, value, want) => {
    expect(sidFromValue(value)).toBe(want);
  });

  it('maps an AD entry; empty values count as absent', () => {
    const entry: Entry = {
      dn: 'CN=Smith\\, John,OU=Staff,DC=corp,DC=test',
      userPrincipalName: 'jsmith@corp.test',
      mail: '',
      sAMAccountName: 'jsmith',
      objectSid: Buffer.from(SID_HEX, 'hex'),
      userAccountControl: '512',
    };
    const m = attributeMapping('activeDirectory');
    expect(identityFromEntry(entry, entryAttributes(entry, 10), m)).toEqual({
      dn: 'CN=Smith\\, John,OU=Staff,DC=corp,DC=test',
      userPrincipalName: 'jsmith@corp.test',
      sAMAccountName: 'jsmith',
      objectSid: SID,
    });
  });

  it('maps an OpenLDAP entry through the preset', () => {
    const entry: Entry = { dn: 'uid=ann,ou=people,dc=x', uid: 'ann', mail: 'ann@x.test', sambaSID: SID };
    expect(identityFromEntry(entry, entryAttributes(entry, 10), attributeMapping('openldap'))).toEqual({
      dn: 'uid=ann,ou=people,dc=x',
      userPrincipalName: 'ann@x.test',
      mail: 'ann@x.test',
      sAMAccountName: 'ann',
      objectSid: SID,
    });
  });
});
