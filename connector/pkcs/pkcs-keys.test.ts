import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { ImportKey } from './import-key.js';
import { encryptImportPassword, MAX_IMPORT_PASSWORD_BYTES } from './import-password.js';
import { KeySealer } from './key-sealer.js';
import { PkcsKeys } from './pkcs-keys.js';
import { randomPassword } from './random-password.js';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'outpost-pkcs-keys-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(OutpostError);
    return (e as OutpostError).code;
  }
  return undefined;
}

describe('local PKCS keys in DATA/pkcs', () => {
  it('creates the sealing and import keys once, 0600 in a 0700 directory, and reloads them', async () => {
    const keys = new PkcsKeys(dataDir);
    const [sealer, importKey] = await Promise.all([keys.sealer(), keys.importKey()]);
    expect(mode(join(dataDir, 'pkcs'))).toBe(0o700);
    expect(mode(join(dataDir, 'pkcs', 'seal.key'))).toBe(0o600);
    expect(mode(join(dataDir, 'pkcs', 'import.key'))).toBe(0o600);
    expect(statSync(join(dataDir, 'pkcs', 'seal.key')).size).toBe(32);
    expect(importKey.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(importKey.id).toMatch(/^[0-9a-f]{64}$/);
    expect(await keys.importKey()).toBe(importKey);

    const again = new PkcsKeys(dataDir);
    expect((await again.importKey()).id).toBe(importKey.id);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const sealed = sealer.seal(key, 'job-1');
    expect((await again.sealer()).unseal(sealed, 'job-1').equals(key)).toBe(true);
    expect(readdirSync(join(dataDir, 'pkcs')).sort()).toEqual(['import.key', 'seal.key']);
  });

  it('two processes creating the key at once end up with the same one (first writer wins)', async () => {
    const sealers = await Promise.all([
      KeySealer.open(dataDir),
      KeySealer.open(dataDir),
      KeySealer.open(dataDir),
    ]);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const sealed = sealers[0]!.seal(key, 'j');
    for (const s of sealers) expect(s.unseal(sealed, 'j').equals(key)).toBe(true);
    expect(readdirSync(join(dataDir, 'pkcs'))).toEqual(['seal.key']);
  });

  it('refuses a damaged key file with a config error', async () => {
    await KeySealer.open(dataDir);
    writeFileSync(join(dataDir, 'pkcs', 'seal.key'), 'short');
    await expect(KeySealer.open(dataDir)).rejects.toMatchObject({ code: ErrorCodes.config });
    writeFileSync(join(dataDir, 'pkcs', 'import.key'), 'not a key');
    await expect(ImportKey.open(dataDir)).rejects.toMatchObject({ code: ErrorCodes.config });
  });
});

describe('KeySealer', () => {
  const sealer = KeySealer.withKey(Buffer.alloc(32, 1));
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  it('refuses any altered byte, a truncated blob, another job id', () => {
    const sealed = sealer.seal(key, 'job-a');
    expect(sealer.unseal(sealed, 'job-a').equals(key)).toBe(true);
    expect(codeOf(() => sealer.unseal(sealed, 'job-b'))).toBe(ErrorCodes.internal);
    expect(codeOf(() => sealer.unseal(sealed.subarray(0, 32), 'job-a'))).toBe(ErrorCodes.internal);
    fc.assert(
      fc.property(fc.nat({ max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const altered = Buffer.from(sealed);
        altered[at] = altered[at]! ^ flip;
        expect(codeOf(() => sealer.unseal(altered, 'job-a'))).toBe(ErrorCodes.internal);
      }),
      { numRuns: 100 },
    );
  });
});

describe('import password encryption', () => {
  const importKey = ImportKey.fromPrivateKey(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey);

  it('round-trips RSA-OAEP-SHA512 through the import key, up to 254 bytes', () => {
    for (const password of ['p', 'pässwörd € 🔑', 'x'.repeat(MAX_IMPORT_PASSWORD_BYTES)]) {
      const { ciphertext, keyId } = encryptImportPassword(importKey.publicKeyPem, password);
      expect(keyId).toBe(importKey.id);
      expect(ciphertext).toHaveLength(384);
      expect(importKey.decrypt(ciphertext).toString('utf8')).toBe(password);
    }
    expect(codeOf(() => encryptImportPassword(importKey.publicKeyPem, 'x'.repeat(255)))).toBe(
      ErrorCodes.limit,
    );
  });

  it('refuses SHA-256 OAEP, PKCS#1 v1.5 and garbage as one decrypt error', () => {
    const sha256 = publicEncrypt(
      { key: importKey.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from('pw'),
    );
    const v15 = publicEncrypt(
      { key: importKey.publicKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from('pw'),
    );
    for (const ciphertext of [sha256, v15, Buffer.alloc(384, 1), Buffer.alloc(3)]) {
      expect(codeOf(() => importKey.decrypt(ciphertext))).toBe(ErrorCodes.decrypt);
    }
  });

  it('refuses small or non-RSA import keys', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(codeOf(() => encryptImportPassword(small as string, 'pw'))).toBe(ErrorCodes.badRequest);
    expect(codeOf(() => encryptImportPassword('nope', 'pw'))).toBe(ErrorCodes.badRequest);
  });
});

describe('randomPassword', () => {
  it('is 32 unambiguous letters and digits, different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const password = randomPassword();
      expect(password).toMatch(/^[A-HJ-NP-Za-km-z2-9]{32}$/);
      seen.add(password);
    }
    expect(seen.size).toBe(200);
  });

  it('decrypts on the device side with RSA-OAEP-SHA256', () => {
    const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const password = randomPassword();
    const ciphertext = publicEncrypt(
      { key: device.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(password),
    );
    expect(
      privateDecrypt(
        { key: device.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        ciphertext,
      ).toString(),
    ).toBe(password);
  });
});
