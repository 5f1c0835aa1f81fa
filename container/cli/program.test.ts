import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { InventoryRecord, PendingRequest } from '../../connector/ports.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { ConnectorAdmin } from '../connector-admin.js';
import { runCli } from './program.js';

// Verbs create the data directory; keep that out of the checkout.
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-cli-data-'));

const record: InventoryRecord = {
  serialHex: '0a1b',
  subject: 'CN=device-1',
  sans: ['dns:device-1.corp.test'],
  profile: 'device',
  requester: 'scep:tx1',
  notBefore: new Date('2025-01-01T00:00:00Z'),
  notAfter: new Date('2026-01-01T00:00:00Z'),
  status: 'valid',
  thumbprint: 'ab'.repeat(32),
  der: Buffer.from([0x30, 0x00]),
};

const pending: PendingRequest = {
  transactionId: 'tx1',
  csrDer: Buffer.from([0x30, 0x00]),
  profile: 'device',
  requester: 'scep',
  subject: 'CN=device-2',
  createdAt: new Date('2025-01-02T00:00:00Z'),
  status: 'pending',
};

function fakeAdmin(overrides: Partial<ConnectorAdmin> = {}) {
  const admin: ConnectorAdmin = {
    initCa: vi.fn(async () => ({ caPem: 'CA-PEM\n', raPem: 'RA-PEM\n' })),
    importCa: vi.fn(async () => ({ caPem: 'CA-PEM\n', raPem: 'RA-PEM\n' })),
    exportCa: vi.fn(async ({ file }: { file: string }) => ({
      file,
      caSubject: 'CN=Outpost Root CA,O=Outpost',
    })),
    caInfo: vi.fn(async () => ({
      subject: 'CN=Outpost Root CA,O=Outpost',
      notAfter: new Date('2035-01-01T00:00:00Z'),
      fingerprintSha256: 'cd'.repeat(32),
      keyType: 'rsa-3072',
      caPem: 'CA-PEM\n',
    })),
    mintChallenge: vi.fn(async () => 'CHALLENGE'),
    listCertificates: vi.fn(async () => [record]),
    revoke: vi.fn(async () => ({ ...record, status: 'revoked' as const })),
    listPending: vi.fn(async () => [pending]),
    approve: vi.fn(async () => record),
    reject: vi.fn(async () => {}),
    close: vi.fn(async () => {}),
    ...overrides,
  };
  return admin;
}

async function cli(argv: string[], admin = fakeAdmin(), extraEnv: NodeJS.ProcessEnv = {}) {
  const env = { OUTPOST_DATA_DIR: dataDir, ...extraEnv };
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    io: {
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
    },
    env,
    openConnectorAdmin: async () => admin,
  });
  return { code, out, err, admin };
}

describe('connector verbs call ConnectorAdmin', () => {
  it.each([
    [['scep', 'challenge'], 'mintChallenge', [{ ttlSeconds: 3600 }]],
    [
      ['scep', 'challenge', '--ttl', '60', '--profile', 'device'],
      'mintChallenge',
      [{ ttlSeconds: 60, profile: 'device' }],
    ],
    [['ca', 'init'], 'initCa', [{ keyAlgorithm: 'rsa-3072', force: false }]],
    [
      ['ca', 'init', '--key-algorithm', 'ec-p384', '--force'],
      'initCa',
      [{ keyAlgorithm: 'ec-p384', force: true }],
    ],
    [
      ['ca', 'import', '--cert', 'c.pem', '--key', 'k.pem'],
      'importCa',
      [{ certFile: 'c.pem', keyFile: 'k.pem', force: false }],
    ],
    [
      ['ca', 'import', '--pkcs12', 'ca.p12', '--password-file', 'pw', '--force'],
      'importCa',
      [{ pkcs12File: 'ca.p12', passwordFile: 'pw', force: true }],
    ],
    [
      ['ca', 'import', 'ca.p12', '--password-file', 'pw'],
      'importCa',
      [{ pkcs12File: 'ca.p12', passwordFile: 'pw', force: false }],
    ],
    [
      ['ca', 'export', '--pkcs12', 'out.p12', '--password-file', 'pw'],
      'exportCa',
      [{ file: 'out.p12', passwordFile: 'pw', force: false }],
    ],
    [['ca', 'show'], 'caInfo', []],
    [['certs', 'list'], 'listCertificates', [{ limit: 100 }]],
    [
      ['certs', 'list', '--status', 'revoked', '--limit', '5'],
      'listCertificates',
      [{ limit: 5, status: 'revoked' }],
    ],
    [['certs', 'revoke', '0A:1B'], 'revoke', ['0a1b', 'unspecified']],
    [['certs', 'revoke', '0a1b', '--reason', 'keyCompromise'], 'revoke', ['0a1b', 'keyCompromise']],
    [['certs', 'pending'], 'listPending', []],
    [['certs', 'approve', 'tx1'], 'approve', ['tx1']],
    [['certs', 'reject', 'tx1'], 'reject', ['tx1']],
  ] as const)('%j → %s', async (argv, method, args) => {
    const { code, admin, err } = await cli([...argv]);
    expect(err).toBe(argv[1] === 'reject' ? 'rejected tx1\n' : '');
    expect(code).toBe(0);
    expect(admin[method]).toHaveBeenCalledWith(...args);
    expect(admin.close).toHaveBeenCalledOnce();
  });

  it('the connector is configured from --config/--data-dir/env', async () => {
    const open = vi.fn(async () => fakeAdmin());
    await runCli(['--data-dir', join(dataDir, 'x'), 'certs', 'pending'], {
      io: { out: () => {}, err: () => {} },
      env: { OUTPOST_LOG_LEVEL: 'error' },
      openConnectorAdmin: open,
    });
    expect(open).toHaveBeenCalledWith(
      expect.objectContaining({ dataDir: join(dataDir, 'x'), log: { level: 'error' } }),
      expect.anything(),
    );
  });
});

describe('output', () => {
  it.each([
    [['scep', 'challenge'], 'CHALLENGE\n'],
    [['ca', 'init'], 'CA-PEM\n'],
    [['ca', 'show', '--pem'], 'CA-PEM\n'],
    [['certs', 'revoke', '0a1b'], 'revoked 0a1b (unspecified) CN=device-1\n'],
    [['certs', 'approve', 'tx1'], 'issued 0a1b CN=device-1\n'],
  ])('%j prints exactly %j', async (argv, expected) => {
    expect((await cli(argv)).out).toBe(expected);
  });

  it.each([
    [
      ['certs', 'list'],
      /^SERIAL\s+STATUS\s+NOT AFTER\s+PROFILE\s+SUBJECT\n0a1b\s+valid\s+2026-01-01T00:00:00.000Z\s+device\s+CN=device-1\n$/,
    ],
    [
      ['certs', 'pending'],
      /^TRANSACTION.*\ntx1\s+pending\s+2025-01-02T00:00:00.000Z\s+device\s+scep\s+CN=device-2\n$/,
    ],
    [['ca', 'show'], /subject:\s+CN=Outpost Root CA,O=Outpost\nnot after:\s+2035-01-01T00:00:00.000Z\n/],
  ])('%j prints a readable table', async (argv, expected) => {
    expect((await cli(argv)).out).toMatch(expected);
  });

  it.each([
    [
      ['certs', 'list', '--json'],
      [{ serialHex: '0a1b', notAfter: '2026-01-01T00:00:00.000Z', derBase64: 'MAA=' }],
    ],
    [
      ['certs', 'pending', '--json'],
      [{ transactionId: 'tx1', createdAt: '2025-01-02T00:00:00.000Z', csrBase64: 'MAA=' }],
    ],
    [['certs', 'approve', 'tx1', '--json'], { serialHex: '0a1b' }],
    [['certs', 'revoke', '0a1b', '--json'], { serialHex: '0a1b', status: 'revoked' }],
    [['ca', 'show', '--json'], { keyType: 'rsa-3072', notAfter: '2035-01-01T00:00:00.000Z' }],
    [['ca', 'init', '--json'], { caPem: 'CA-PEM\n', raPem: 'RA-PEM\n' }],
    [['scep', 'challenge', '--json'], { challenge: 'CHALLENGE', ttlSeconds: 3600, profile: null }],
    [
      ['scep', 'challenge', '--ttl', '60', '--profile', 'device', '--json'],
      { challenge: 'CHALLENGE', ttlSeconds: 60, profile: 'device' },
    ],
    [['certs', 'reject', 'tx1', '--json'], { transactionId: 'tx1', status: 'rejected' }],
  ])('%j prints JSON', async (argv, expected) => {
    expect(JSON.parse((await cli(argv)).out)).toMatchObject(expected);
  });
});

describe('errors and exit codes', () => {
  const failWith = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string) =>
    fakeAdmin({ revoke: vi.fn(async () => Promise.reject(new OutpostError(code, message))) });

  it.each([
    [ErrorCodes.notFound, 'no certificate with serial 0a1b', 3],
    [ErrorCodes.conflict, 'already revoked', 4],
    [ErrorCodes.unavailable, 'CA unreachable', 1],
    [ErrorCodes.config, 'bad', 2],
  ])('%s → exit %d', async (code, message, exit) => {
    const result = await cli(['certs', 'revoke', '0a1b'], failWith(code, message));
    expect(result.code).toBe(exit);
    expect(result.err).toBe(`error: ${message} (${code})\n`);
    expect(result.admin.close).toHaveBeenCalledOnce();
  });

  it('--json makes errors JSON', async () => {
    const result = await cli(
      ['certs', 'revoke', '0a1b', '--json'],
      failWith(ErrorCodes.conflict, 'already revoked'),
    );
    expect(JSON.parse(result.err)).toEqual({
      error: { code: ErrorCodes.conflict, message: 'already revoked' },
    });
  });

  it('an unexpected exception is an internal error, exit 1', async () => {
    const result = await cli(
      ['certs', 'pending'],
      fakeAdmin({ listPending: vi.fn(async () => Promise.reject(new TypeError('boom'))) }),
    );
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^error: internal error: TypeError: boom \(OUTPOST_ERR_INTERNAL\)\n$/);
  });

  it.each([
    [['scep', 'challenge', '--profile', 'nope'], 3, /unknown profile nope \(known: device\)/],
    [['scep', 'challenge', '--ttl', '0'], 2, /--ttl/],
    [['ca', 'import', '--cert', 'c.pem'], 2, /--cert and --key go together/],
    [['ca', 'import'], 2, /give --cert and --key, or a PKCS#12 file/],
    [['ca', 'import', '--cert', 'c', '--key', 'k', '--pkcs12', 'p'], 2, /not both/],
    [['ca', 'init', '--key-algorithm', 'dsa'], 2, /Allowed choices/],
    [['certs', 'list', '--status', 'bogus'], 2, /Allowed choices/],
    [['certs', 'list', '--limit', '0'], 2, /from 1 to 10000/],
    [['certs', 'revoke'], 2, /missing required argument/],
    [['certs', 'revoke', 'xyz'], 2, /hexadecimal/],
    [['certs', 'revoke', '0a', '--reason', 'whim'], 2, /Allowed choices/],
    [['bogus'], 2, /unknown command 'bogus'/],
    [['--bogus'], 2, /unknown option '--bogus'/],
  ])('%j → exit %d', async (argv, exit, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(exit);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
  });

  it('an invalid config stops a connector verb before the connector opens', async () => {
    const open = vi.fn();
    let err = '';
    const code = await runCli(['certs', 'pending'], {
      io: {
        out: () => {},
        err: (t) => {
          err += t;
        },
      },
      env: { OUTPOST__connector__ca__type: 'foo' },
      openConnectorAdmin: open,
    });
    expect(code).toBe(2);
    expect(open).not.toHaveBeenCalled();
    expect(err).toContain("connector.ca.type: got 'foo', expected one of builtin, scep-upstream, cfssl");
  });
});

describe('config check', () => {
  it.each([
    [[], /^dataDir: \S+outpost-cli-data-\S+\n/],
    [['--json'], /^\{\n {2}"dataDir": "\S+outpost-cli-data-\S+",/],
  ])('%j prints the effective config', async (extra, expected) => {
    const result = await cli(['config', 'check', ...extra]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(expected);
  });

  it('masks secrets', async () => {
    const result = await cli(['config', 'check'], fakeAdmin(), {
      OUTPOST__connector__scep__challenge__static: 'hunter2',
    });
    expect(result.out).not.toContain('hunter2');
    expect(result.out).toContain('static: "********"');
  });

  it.each([
    [[], 'error: invalid configuration (OUTPOST_ERR_CONFIG)\n  unknown key gateway.listne\n'],
    [
      ['--json'],
      '{"error":{"code":"OUTPOST_ERR_CONFIG","message":"invalid configuration","problems":["unknown key gateway.listne"]}}\n',
    ],
  ])('invalid %j → exit 2 with the problems', async (extra, expected) => {
    const result = await cli(['config', 'check', ...extra], fakeAdmin(), { OUTPOST__gateway__listne: '1' });
    expect(result.code).toBe(2);
    expect(result.err).toBe(expected);
    expect(result.out).toBe('');
  });
});
