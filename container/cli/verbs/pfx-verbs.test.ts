import { spawnSync } from 'node:child_process';
import { constants, createHash, createPrivateKey, createPublicKey, privateDecrypt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../program.js';

let dir: string;
let dataDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-pfx-cli-'));
  dataDir = join(dir, 'data');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]) {
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
    env: { OUTPOST_DATA_DIR: dataDir },
  });
  return { code, out, err };
}

/** What the connector does with a job's encryptedPassword: RSA-OAEP-SHA512 with DATA/pkcs/import.key. */
function decryptWithImportKey(base64: string): string {
  const key = createPrivateKey(readFileSync(join(dataDir, 'pkcs', 'import.key')));
  return privateDecrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha512' },
    Buffer.from(base64, 'base64'),
  ).toString('utf8');
}

const spkiId = (pem: string) =>
  createHash('sha256')
    .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
    .digest('hex');

describe('outpost pfx', () => {
  it('export-key creates the import key once (0600) and prints its PEM, the id on stderr', async () => {
    const first = await cli(['pfx', 'export-key']);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    expect(createPublicKey(first.out).asymmetricKeyDetails?.modulusLength).toBe(3072);
    const id = spkiId(first.out);
    expect(first.err).toBe(`key id: ${id}\n`);
    expect(statSync(join(dataDir, 'pkcs', 'import.key')).mode & 0o777).toBe(0o600);

    const again = await cli(['pfx', 'export-key', '--json']);
    expect(JSON.parse(again.out)).toEqual({ keyId: id, publicKeyPem: first.out });

    const file = join(dir, 'import.pem');
    const toFile = await cli(['pfx', 'export-key', '--out', file]);
    expect(toFile.out).toBe(`${id}\n`);
    expect(readFileSync(file, 'utf8')).toBe(first.out);
  });

  it('encrypt --password-file prints base64 RSA-OAEP-SHA512 the import key decrypts', async () => {
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, (await cli(['pfx', 'export-key'])).out);
    const passwordFile = join(dir, 'pw.txt');
    writeFileSync(passwordFile, 'pässwörd with spaces \n');
    const result = await cli(['pfx', 'encrypt', '--key', keyFile, '--password-file', passwordFile]);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^[A-Za-z0-9+/]+=*\n$/);
    expect(Buffer.from(result.out.trim(), 'base64')).toHaveLength(384);
    expect(decryptWithImportKey(result.out.trim())).toBe('pässwörd with spaces ');
    expect(result.err).toContain(`import key id: ${spkiId(readFileSync(keyFile, 'utf8'))}`);

    const json = JSON.parse(
      (await cli(['pfx', 'encrypt', '--key', keyFile, '--password-file', passwordFile, '--json'])).out,
    );
    expect(json.importKeyId).toBe(spkiId(readFileSync(keyFile, 'utf8')));
    expect(decryptWithImportKey(json.encryptedPassword)).toBe('pässwörd with spaces ');
  });

  it('encrypt refuses a missing key file, a non-key and a missing --key', async () => {
    const pw = join(dir, 'pw2.txt');
    writeFileSync(pw, 'x');
    expect((await cli(['pfx', 'encrypt', '--key', join(dir, 'nope.pem'), '--password-file', pw])).code).toBe(
      3,
    );
    const bad = await cli(['pfx', 'encrypt', '--key', pw, '--password-file', pw]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('not a PEM public key');
    expect((await cli(['pfx', 'encrypt'])).code).toBe(2);
  });

  it('explains itself in --help', async () => {
    const help = await cli(['pfx', '--help']);
    expect(help.out).toContain('export-key');
    expect(help.out).toContain('encrypt');
    expect((await cli(['pfx', 'encrypt', '--help'])).out).toContain('RSA-OAEP-SHA512');
  });
});

// The built CLI, as admins run it: the password comes from stdin.
const MAIN = fileURLToPath(new URL('../../../dist/container/cli/main.js', import.meta.url));

describe.skipIf(!existsSync(MAIN))('outpost pfx (built CLI, spawned)', () => {
  it('encrypt reads the password from stdin', () => {
    const env = { ...process.env, OUTPOST_DATA_DIR: dataDir };
    const exported = spawnSync(process.execPath, [MAIN, 'pfx', 'export-key', '--out', join(dir, 'k.pem')], {
      env,
      encoding: 'utf8',
    });
    expect(exported.status, exported.stderr).toBe(0);
    const encrypted = spawnSync(process.execPath, [MAIN, 'pfx', 'encrypt', '--key', join(dir, 'k.pem')], {
      env,
      input: 'from stdin\n',
      encoding: 'utf8',
    });
    expect(encrypted.status, encrypted.stderr).toBe(0);
    expect(decryptWithImportKey(encrypted.stdout.trim())).toBe('from stdin');
  });
});
