import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { LdapDirectory } from '../../directory/ldap-directory.js';
import { AUTH_FAILURE_MESSAGES } from './auth-result.js';
import type { Directory, DirectoryAccount } from './directory.js';
import { PasswordAuthenticator } from './password-authenticator.js';

/** LdapDirectory must keep satisfying the interface this folder declares (checked by tsc). */
const _ldapIsADirectory = (d: LdapDirectory): Directory => d;
void _ldapIsADirectory;

function fakeDirectory(behaviour: (u: string, p: string) => DirectoryAccount | Error): Directory {
  return {
    authenticate: async (u, p) => {
      const r = behaviour(u, p);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

const alice: DirectoryAccount = { dn: 'uid=alice,dc=x', username: 'alice', groups: ['VPN-Users'] };
const directory = fakeDirectory((u, p) =>
  u === 'alice' && p === 'pw'
    ? alice
    : new OutpostError(ErrorCodes.unauthorized, 'invalid username or password'),
);

describe('PasswordAuthenticator', () => {
  it('returns the directory account as an AuthResult', async () => {
    expect(await new PasswordAuthenticator(directory).authenticate('alice', 'pw')).toEqual({
      username: 'alice',
      groups: ['VPN-Users'],
      method: 'password',
    });
  });

  it('turns every credential failure into unauthorized with the password message', async () => {
    for (const d of [directory, fakeDirectory(() => new Error('boom'))]) {
      const e = await new PasswordAuthenticator(d).authenticate('alice', 'wrong').catch((x: unknown) => x);
      expect((e as OutpostError).code).toBe(ErrorCodes.unauthorized);
      expect((e as OutpostError).clientMessage).toBe(AUTH_FAILURE_MESSAGES.password);
    }
  });

  it('passes unavailable through (the gateway answers "try later", no ban points)', async () => {
    const down = fakeDirectory(() => new OutpostError(ErrorCodes.unavailable, 'directory unavailable'));
    const e = await new PasswordAuthenticator(down).authenticate('alice', 'pw').catch((x: unknown) => x);
    expect((e as OutpostError).code).toBe(ErrorCodes.unavailable);
  });

  it('requires one of allowedGroups (case-insensitive) with the same client message', async () => {
    expect(
      (
        await new PasswordAuthenticator(directory, { allowedGroups: ['vpn-users'] }).authenticate(
          'alice',
          'pw',
        )
      ).username,
    ).toBe('alice');
    const e = await new PasswordAuthenticator(directory, { allowedGroups: ['admins'] })
      .authenticate('alice', 'pw')
      .catch((x: unknown) => x);
    expect((e as OutpostError).clientMessage).toBe(AUTH_FAILURE_MESSAGES.password);
    expect((e as OutpostError).message).toMatch(/none of the allowed groups/);
  });
});
