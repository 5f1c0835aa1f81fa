import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';
import { parsePostgresUrl } from './schema-state.js';

function state(value: string) {
  return loadConfig({ env: { OUTPOST__state: value } }).state;
}

function problems(value: string): string[] {
  try {
    loadConfig({ env: { OUTPOST__state: value } });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('state', () => {
  it('is SQLite, embedded, by default', () => {
    expect(loadConfig({ env: {} }).state).toEqual({ backend: 'sqlite' });
  });

  it('takes a PostgreSQL URL, a password file and TLS options with their defaults', () => {
    expect(
      state(
        '{backend: postgres, postgres: {url: "postgres://outpost@db.example:5433/site", passwordFile: /run/secrets/pg, tls: {ca: /etc/pg-ca.pem}}}',
      ),
    ).toEqual({
      backend: 'postgres',
      postgres: {
        url: 'postgres://outpost@db.example:5433/site',
        passwordFile: '/run/secrets/pg',
        tls: { ca: '/etc/pg-ca.pem', cert: null, key: null },
        poolSize: 10,
        connectTimeoutMs: 5000,
        statementTimeoutMs: 15_000,
      },
    });
  });

  it.each([
    ['{backend: postgres}', 'state.postgres: got nothing, expected a postgres section with a url'],
    ['{backend: mysql}', "state.backend: got 'mysql', expected one of sqlite, postgres"],
    [
      '{backend: postgres, postgres: {url: "mysql://u@h/d"}}',
      'expected a URL with scheme postgres or postgresql',
    ],
    [
      '{backend: postgres, postgres: {url: "postgres://u@h/d?sslmode=disable"}}',
      'expected no query or fragment',
    ],
    ['{backend: postgres, postgres: {url: "postgres://h/d"}}', 'expected a user in the URL'],
    ['{backend: postgres, postgres: {url: "postgres://u@h"}}', 'expected a database name as the URL path'],
    [
      '{backend: postgres, postgres: {url: "postgres://u@%2Frun%2Fpg/d", tls: {mode: verify-full}}}',
      "state.postgres.tls.mode: got 'verify-full', expected disable (or no mode) for a Unix socket",
    ],
    [
      '{backend: postgres, postgres: {url: "postgres://u@h/d", tls: {mode: disable, ca: /ca.pem}}}',
      "state.postgres.tls.ca: got '/ca.pem', expected no TLS file when TLS is disabled",
    ],
    [
      '{backend: postgres, postgres: {url: "postgres://u@h/d", tls: {cert: /c.pem}}}',
      'state.postgres.tls.key: got null, expected cert and key together',
    ],
    [
      '{backend: postgres, postgres: {url: "postgres://u@h/d", tls: {mode: prefer}}}',
      "state.postgres.tls.mode: got 'prefer'",
    ],
    [
      '{backend: postgres, postgres: {url: "postgres://u@h/d", poolSize: 0}}',
      'state.postgres.poolSize: got 0',
    ],
  ])('refuses %s', (value, expected) => {
    expect(problems(value).join('\n')).toContain(expected);
  });

  it('never repeats a password written in the URL', () => {
    const lines = problems('{backend: postgres, postgres: {url: "postgres://outpost:hunter2@db/site"}}').join(
      '\n',
    );
    expect(lines).toContain('expected no password in the URL (put it in passwordFile)');
    expect(lines).toContain('postgres://outpost:********@db/site');
    expect(lines).not.toContain('hunter2');
  });

  it.each([
    [
      'postgres://outpost@db.example/site',
      { host: 'db.example', port: 5432, user: 'outpost', database: 'site' },
    ],
    ['postgresql://outpost@[::1]:5433/site', { host: '::1', port: 5433, user: 'outpost', database: 'site' }],
    [
      'postgres://outpost@%2Frun%2Fpostgresql/site',
      { host: '/run/postgresql', port: 5432, user: 'outpost', database: 'site' },
    ],
    ['postgres://out%40post@h/d', { host: 'h', port: 5432, user: 'out@post', database: 'd' }],
  ])('reads %s', (url, parts) => {
    expect(parsePostgresUrl(url)).toEqual(parts);
  });

  it('refuses a relative socket directory and a malformed escape', () => {
    expect(parsePostgresUrl('postgres://u@run%2Fpg/d')).toContain('absolute');
    expect(parsePostgresUrl('postgres://u@h/%E0%A4%A')).toContain('database name');
  });
});
