import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { BAD_CREDENTIALS_MESSAGE } from './directory-errors.js';
import { LdapDirectory } from './ldap-directory.js';
import { ldapDirectorySettings } from './ldap-directory-config.js';

/** A TCP server that accepts and then never answers: a hung directory. */
let silent: Server;
const sockets: Socket[] = [];
let silentUrl: string;

beforeAll(async () => {
  silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const address = silent.address();
  silentUrl = `ldap://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
});

function directory(url: string, timeoutMs = 300): LdapDirectory {
  return new LdapDirectory(
    ldapDirectorySettings({ url, baseDn: 'dc=example,dc=test', bindDn: 'cn=svc', timeoutMs }),
    { bindPassword: 'very-secret-service-password', caPem: null },
  );
}

async function rejection(p: Promise<unknown>): Promise<OutpostError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutpostError);
  return e as OutpostError;
}

describe('LdapDirectory without a server', () => {
  it('fills in defaults and ignores StartTLS on ldaps://', () => {
    const s = ldapDirectorySettings({ url: 'ldaps://dc.corp.test', baseDn: 'dc=corp', startTls: true });
    expect(s).toMatchObject({
      startTls: false,
      usernameAttribute: 'sAMAccountName',
      connectTimeoutMs: 10_000,
      operationTimeoutMs: 10_000,
      sizeLimit: 1000,
      groups: { from: 'memberOf', name: 'cn' },
    });
    expect(() => ldapDirectorySettings({ url: 'http://dc', baseDn: 'dc=corp' })).toThrow(/ldap/);
  });

  it('refuses an invalid userFilter at construction', () => {
    expect(
      () =>
        new LdapDirectory(
          ldapDirectorySettings({ url: silentUrl, baseDn: 'dc=x', userFilter: '(objectClass=' }),
          {
            bindPassword: null,
            caPem: null,
          },
        ),
    ).toThrow(/RFC 4515/);
  });

  it('refuses empty and oversized credentials before any network I/O', async () => {
    const d = directory('ldap://192.0.2.1:389'); // TEST-NET: would hang if contacted
    for (const [u, p] of [
      ['alice', ''],
      ['', 'pw'],
      ['x'.repeat(257), 'pw'],
      ['alice', 'p'.repeat(1025)],
    ] as const) {
      const e = await rejection(d.authenticate(u, p));
      expect(e.code).toBe(ErrorCodes.unauthorized);
      expect(e.clientMessage).toBe(BAD_CREDENTIALS_MESSAGE);
    }
  });

  it('a server that accepts but never answers is unavailable within the timeout', async () => {
    const d = directory(silentUrl, 300);
    const started = Date.now();
    const e = await rejection(d.authenticate('alice', 'pw'));
    expect(e.code).toBe(ErrorCodes.unavailable);
    expect(Date.now() - started).toBeLessThan(1500);
    await d.close();
  });

  it('a refused connection is unavailable', async () => {
    const d = directory('ldap://127.0.0.1:1');
    const e = await rejection(d.lookupUser('uid', 'alice'));
    expect(e.code).toBe(ErrorCodes.unavailable);
  });

  it('keeps the bind password out of inspect, JSON and error messages', async () => {
    const d = directory(silentUrl, 200);
    expect(inspect(d, { depth: 10, showHidden: true })).not.toContain('very-secret');
    expect(JSON.stringify(d)).not.toContain('very-secret');
    const e = await rejection(d.authenticate('alice', 'user-secret'));
    expect(`${e.message} ${inspect(e)}`).not.toMatch(/very-secret|user-secret/);
  });
});
