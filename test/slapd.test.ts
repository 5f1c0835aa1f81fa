import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { BAD_CREDENTIALS_MESSAGE } from '../directory/directory-errors.js';
import { LdapDirectory } from '../directory/ldap-directory.js';
import type { LdapDirectoryConfig } from '../directory/ldap-directory-config.js';
import { requirePeers } from './testing/peers.js';
import { type RunningSlapd, startSlapd } from './testing/slapd.js';

requirePeers('slapd', 'slapadd', 'slappasswd', 'openssl');

/** Interop: LdapDirectory against a real OpenLDAP 2.5 with the AD-like schema. */
describe('LdapDirectory against slapd', () => {
  let slapd: RunningSlapd;
  let secrets: string;
  let directory: LdapDirectory;

  const config = (overrides: Partial<LdapDirectoryConfig> = {}): LdapDirectoryConfig => ({
    url: slapd.url,
    bindDn: slapd.bindDn,
    bindPasswordFile: join(secrets, 'bind-password'),
    baseDn: slapd.baseDn,
    usernameAttribute: 'sAMAccountName',
    timeoutMs: 2000,
    ...overrides,
  });

  async function rejection(p: Promise<unknown>): Promise<OutpostError> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(OutpostError);
    return e as OutpostError;
  }

  beforeAll(async () => {
    slapd = await startSlapd({ tls: true });
    secrets = mkdtempSync(join(tmpdir(), 'outpost-ldap-secret-'));
    // a trailing newline, as `echo pw > file` and most secret mounts leave it
    writeFileSync(join(secrets, 'bind-password'), `${slapd.bindPassword}\n`, { mode: 0o600 });
    directory = await LdapDirectory.open(config());
  });

  afterAll(async () => {
    await directory?.close();
    await slapd?.stop();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  it('authenticates with the right password and returns groups (memberOf) and decoded attributes', async () => {
    const user = await directory.authenticate('ALICE', slapd.userPassword);
    expect(user.dn).toBe('uid=alice,ou=people,dc=example,dc=test');
    expect(user.username).toBe('alice');
    expect(user.groups.sort()).toEqual(['Sales, EMEA', 'vpn-users']);
    expect(user.attributes.mail).toEqual(['alice@example.test']);
    expect(user.attributes.objectsid).toEqual(['S-1-5-21-1004336348-1177238915-682003330-1105']);
  });

  it('gives the same unauthorized error for a wrong password and an unknown user', async () => {
    const wrong = await rejection(directory.authenticate('alice', 'not-the-password'));
    const unknown = await rejection(directory.authenticate('mallory', 'whatever'));
    for (const e of [wrong, unknown]) {
      expect(e.code).toBe(ErrorCodes.unauthorized);
      expect(e.clientMessage).toBe(BAD_CREDENTIALS_MESSAGE);
    }
    expect(wrong.message).toMatch(/refused: LDAP result 49/);
    expect(unknown.message).toMatch(/no entry/);
  });

  it('refuses an empty password without asking the server (RFC 4513 unauthenticated bind)', async () => {
    const e = await rejection(directory.authenticate('alice', ''));
    expect(e.code).toBe(ErrorCodes.unauthorized);
    expect(e.clientMessage).toBe(BAD_CREDENTIALS_MESSAGE);
    expect(e.message).toMatch(/RFC 4513/);
  });

  it('matches filter specials literally (RFC 4515 escaping)', async () => {
    const user = await directory.authenticate('o(brien)*', slapd.userPassword);
    expect(user.username).toBe('o(brien)*');
    const star = await rejection(directory.authenticate('*', slapd.userPassword));
    expect(star.message).toMatch(/no entry/);
    expect(await directory.lookupUser('uid', 'a*')).toBeUndefined();
  });

  it('looks users up by upn, mail, sAMAccountName and uid', async () => {
    expect((await directory.lookupUser('upn', 'bob@example.test'))?.dn).toMatch(/^uid=bob,/);
    expect((await directory.lookupUser('mail', 'carol@example.test'))?.groups).toEqual(['pki-admins']);
    expect((await directory.lookupUser('sAMAccountName', 'bob'))?.attributes.objectsid).toEqual([
      'S-1-5-21-1004336348-1177238915-682003330-1106',
    ]);
    expect(await directory.lookupUser('uid', 'nobody')).toBeUndefined();
  });

  it('reads groups with a paged group search as well', async () => {
    const bySearch = await LdapDirectory.open(
      config({ groups: { from: 'search', name: 'dn', pageSize: 1 }, usernameAttribute: 'uid' }),
    );
    try {
      const user = await bySearch.authenticate('alice', slapd.userPassword);
      expect(user.groups.sort()).toEqual([
        'cn=Sales\\2C EMEA,ou=groups,dc=example,dc=test',
        'cn=vpn-users,ou=groups,dc=example,dc=test',
      ]);
    } finally {
      await bySearch.close();
    }
  });

  it('caps groups at sizeLimit', async () => {
    const capped = await LdapDirectory.open(
      config({ sizeLimit: 1, groups: { from: 'search', pageSize: 1 } }),
    );
    try {
      expect((await capped.authenticate('alice', slapd.userPassword)).groups).toHaveLength(1);
    } finally {
      await capped.close();
    }
  });

  it('works over ldaps:// and StartTLS with the fixture CA', async () => {
    const caFile = slapd.caFile!;
    for (const c of [config({ url: slapd.ldapsUrl!, ca: caFile }), config({ startTls: true, ca: caFile })]) {
      const d = await LdapDirectory.open(c);
      try {
        expect((await d.authenticate('bob', slapd.userPassword)).groups).toEqual(['vpn-users']);
      } finally {
        await d.close();
      }
    }
  });

  it('refuses a server certificate it cannot verify: unavailable, not unauthorized', async () => {
    const d = await LdapDirectory.open(config({ url: slapd.ldapsUrl! }));
    try {
      const e = await rejection(d.authenticate('bob', slapd.userPassword));
      expect(e.code).toBe(ErrorCodes.unavailable);
    } finally {
      await d.close();
    }
  });

  it('a wrong service password is unavailable (an operator problem), not the user’s', async () => {
    writeFileSync(join(secrets, 'wrong'), 'nope');
    const d = await LdapDirectory.open(config({ bindPasswordFile: join(secrets, 'wrong') }));
    try {
      const e = await rejection(d.authenticate('bob', slapd.userPassword));
      expect(e.code).toBe(ErrorCodes.unavailable);
      expect(e.message).not.toContain('nope');
    } finally {
      await d.close();
    }
  });

  it('a hung slapd (SIGSTOP) is unavailable within the operation timeout, and recovers', async () => {
    await directory.authenticate('bob', slapd.userPassword); // service connection is open
    slapd.pause();
    try {
      const started = Date.now();
      const e = await rejection(directory.authenticate('bob', slapd.userPassword));
      expect(e.code).toBe(ErrorCodes.unavailable);
      expect(Date.now() - started).toBeLessThan(3500);
    } finally {
      slapd.resume();
    }
    expect((await directory.authenticate('bob', slapd.userPassword)).username).toBe('bob');
  });

  it('slapd stopped: unavailable within the timeout (last: it stops the fixture)', async () => {
    await slapd.stop();
    const started = Date.now();
    const e = await rejection(directory.authenticate('alice', slapd.userPassword));
    expect(e.code).toBe(ErrorCodes.unavailable);
    expect(e.clientMessage).not.toBe(BAD_CREDENTIALS_MESSAGE);
    expect(Date.now() - started).toBeLessThan(2500);
  });
});
