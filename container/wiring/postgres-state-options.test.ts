import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../core/errors.js';
import type { PostgresStateConfig } from '../config/schema-state.js';
import { postgresStateOptions } from './postgres-state-options.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-pg-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'password'), 's3cret\r\n', { mode: 0o600 });
writeFileSync(join(dir, 'empty'), '\n', { mode: 0o600 });
writeFileSync(join(dir, 'ca.pem'), 'CA PEM');

function config(extra: Partial<PostgresStateConfig> = {}): PostgresStateConfig {
  return {
    url: 'postgres://outpost@db.example:5433/site',
    passwordFile: join(dir, 'password'),
    tls: { ca: null, cert: null, key: null },
    poolSize: 3,
    connectTimeoutMs: 1000,
    statementTimeoutMs: 2000,
    ...extra,
  };
}

describe('postgresStateOptions', () => {
  it('connects where the URL says, with the password file less its newline', async () => {
    const options = await postgresStateOptions(config(), ['step 1']);
    expect(options).toMatchObject({
      host: 'db.example',
      port: 5433,
      user: 'outpost',
      database: 'site',
      poolSize: 3,
      connectTimeoutMs: 1000,
      statementTimeoutMs: 2000,
      migrations: ['step 1'],
    });
    expect(options.binary).toMatch(/^outpost \d/);
    expect(options.password?.()).toBe('s3cret');
  });

  it.each([
    [undefined, 'db.example', { rejectUnauthorized: true }],
    ['verify-full', 'db.example', { rejectUnauthorized: true, ca: 'CA PEM' }],
    ['require', 'db.example', { rejectUnauthorized: false, ca: 'CA PEM' }],
    ['disable', 'db.example', false],
    [undefined, '%2Frun%2Fpostgresql', false],
  ] as const)('maps tls.mode %s on %s', async (mode, host, expected) => {
    const withCa = mode === 'verify-full' || mode === 'require';
    const options = await postgresStateOptions(
      config({
        url: `postgres://outpost@${host}/site`,
        tls: { ...(mode ? { mode } : {}), ca: withCa ? join(dir, 'ca.pem') : null, cert: null, key: null },
      }),
      [],
    );
    expect(options.ssl).toEqual(expected);
  });

  it('checks the chain but not the name with verify-ca', async () => {
    const options = await postgresStateOptions(
      config({ tls: { mode: 'verify-ca', ca: null, cert: null, key: null } }),
      [],
    );
    expect(options.ssl).toMatchObject({ rejectUnauthorized: true });
    const check = (options.ssl as { checkServerIdentity: () => unknown }).checkServerIdentity;
    expect(check()).toBeUndefined();
  });

  it.each([
    [{ passwordFile: join(dir, 'missing') }, 'cannot read state.postgres.passwordFile'],
    [{ passwordFile: join(dir, 'empty') }, 'state.postgres.passwordFile is empty'],
    [{ tls: { ca: join(dir, 'missing.pem'), cert: null, key: null } }, 'cannot read state.postgres.tls.ca'],
  ])('refuses %j as a configuration error', async (extra, message) => {
    await expect(postgresStateOptions(config(extra), [])).rejects.toMatchObject({
      code: ErrorCodes.config,
      clientMessage: message,
    });
  });
});
