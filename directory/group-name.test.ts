import { describe, expect, it } from 'vitest';
import { groupCnFromDn } from './group-name.js';

describe('groupCnFromDn', () => {
  it('takes the CN of the first RDN', () => {
    expect(groupCnFromDn('cn=vpn-users,ou=groups,dc=example,dc=test')).toBe('vpn-users');
    expect(groupCnFromDn('CN=VPN Users,OU=Groups,DC=corp,DC=test')).toBe('VPN Users');
  });

  it('removes RFC 4514 escapes, including hex-encoded UTF-8', () => {
    expect(groupCnFromDn('CN=Sales\\, EMEA,OU=Groups,DC=corp')).toBe('Sales, EMEA');
    expect(groupCnFromDn('CN=J\\C3\\B6rg\\2BCo,DC=corp')).toBe('Jörg+Co');
    expect(groupCnFromDn('CN=a\\\\b,DC=corp')).toBe('a\\b');
  });

  it('returns undefined for what is not a plain CN', () => {
    expect(groupCnFromDn('OU=Groups,DC=corp')).toBeUndefined();
    expect(groupCnFromDn('CN=a+UID=b,DC=corp')).toBeUndefined();
    expect(groupCnFromDn('CN=#04024869,DC=corp')).toBeUndefined();
    expect(groupCnFromDn('CN=,DC=corp')).toBeUndefined();
  });
});
