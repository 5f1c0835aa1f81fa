import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstDer, pemBlocks } from '../../certs/pem.js';
import { opensslAll } from '../../certs/testing/openssl.js';
import { opensslPfx } from '../../certs/testing/pki-presets.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { ImportKey } from './import-key.js';
import { encryptImportPassword } from './import-password.js';
import { importPfx, type PfxImportRequest } from './import-pfx.js';
import { TestConnector } from './testing/test-connector.js';

let t: TestConnector;
let importKey: ImportKey;
const NOW = () => new Date();

beforeAll(async () => {
  t = await TestConnector.open();
  importKey = ImportKey.fromPrivateKey(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey);
});
afterAll(() => t.cleanup());

function request(pfx: Buffer, password: string, over: Partial<PfxImportRequest> = {}): PfxImportRequest {
  const { ciphertext, keyId } = encryptImportPassword(importKey.publicKeyPem, password);
  return {
    pfx,
    encryptedPassword: ciphertext,
    importKeyId: keyId,
    protection: 'modern',
    devicePublicKey: t.devicePublicKeyPem,
    ...over,
  };
}

function codeOf(run: () => unknown): OutpostError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(OutpostError);
    return e as OutpostError;
  }
  throw new Error('expected a throw');
}

describe('importPfx with files from openssl pkcs12 -export', () => {
  it.each([
    ['default (PBES2 AES-256)', 'modern', []],
    ['-legacy with 3DES certificates', 'legacy', ['-legacy', '-certpbe', 'PBE-SHA1-3DES']],
    ['-legacy with 3DES certificates', 'modern', ['-legacy', '-certpbe', 'PBE-SHA1-3DES']],
  ] as const)('re-wraps %s for the device (%s out)', (_name, protection, exportArgs) => {
    const source = opensslPfx({
      password: 'admin secret ü',
      eku: 'emailProtection,clientAuth',
      exportArgs: [...exportArgs],
    });
    const imported = importPfx(
      { importKey, clock: NOW },
      request(source.pfx, 'admin secret ü', { protection }),
    );
    expect(imported.certificate.subject.text).toContain('CN=Alice');
    expect(imported.passwordEncryption).toBe('RSA-OAEP-SHA256');
    const password = t.devicePassword(imported.encryptedPassword);
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const dump = opensslAll(
      [
        'pkcs12',
        '-in',
        'in.p12',
        '-passin',
        'file:pw',
        '-nodes',
        ...(protection === 'legacy' ? ['-legacy'] : []),
      ],
      { 'in.p12': imported.pfx, pw: `${password}\n` },
    );
    expect(dump.status, dump.output).toBe(0);
    const certs = pemBlocks(dump.output)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => b.der);
    expect(certs).toEqual([firstDer(source.certPem, 'CERTIFICATE'), firstDer(source.caPem, 'CERTIFICATE')]);
    const keyDer = pemBlocks(dump.output).find((b) => b.label === 'PRIVATE KEY')!.der;
    expect(
      createPublicKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' })).export({
        type: 'spki',
        format: 'der',
      }),
    ).toEqual(createPublicKey(source.keyPem).export({ type: 'spki', format: 'der' }));
    expect(dump.output).toContain('friendlyName: Alice S/MIME');
    const info = opensslAll(
      [
        'pkcs12',
        '-in',
        'in.p12',
        '-passin',
        'file:pw',
        '-info',
        '-noout',
        ...(protection === 'legacy' ? ['-legacy'] : []),
      ],
      { 'in.p12': imported.pfx, pw: `${password}\n` },
    );
    expect(info.output).toContain(protection === 'legacy' ? 'MAC: sha1' : 'MAC: sha256');
  });

  it('accepts a certificate without EKU (any purpose, RFC 8550 §4.4.4)', () => {
    const source = opensslPfx({ password: 'pw' });
    expect(importPfx({ importKey, clock: NOW }, request(source.pfx, 'pw')).certificate.eku).toEqual([]);
  });
});

describe('importPfx refuses, with a final error and a clear reason', () => {
  let good: ReturnType<typeof opensslPfx>;
  beforeAll(() => {
    good = opensslPfx({ password: 'right', eku: 'emailProtection' });
  });

  it('a wrong password', () => {
    const error = codeOf(() => importPfx({ importKey, clock: NOW }, request(good.pfx, 'wrong')));
    expect(error.code).toBe(ErrorCodes.badSignature);
    expect(error.clientMessage).toContain('wrong PKCS#12 password');
  });

  it('a corrupt file', () => {
    const corrupt = Buffer.from(good.pfx);
    corrupt[10] = corrupt[10]! ^ 0xff;
    expect([ErrorCodes.decode, ErrorCodes.badSignature]).toContain(
      codeOf(() => importPfx({ importKey, clock: NOW }, request(corrupt, 'right'))).code,
    );
    expect(
      codeOf(() => importPfx({ importKey, clock: NOW }, request(Buffer.from('not a pfx'), 'right'))).code,
    ).toBe(ErrorCodes.decode);
  });

  it('RC2 certificates (openssl -legacy default), with the re-export advice', () => {
    const rc2 = opensslPfx({ password: 'pw', eku: 'emailProtection', exportArgs: ['-legacy'] });
    const error = codeOf(() => importPfx({ importKey, clock: NOW }, request(rc2.pfx, 'pw')));
    expect(error.code).toBe(ErrorCodes.unsupportedAlgorithm);
    expect(error.clientMessage).toContain('-certpbe AES-256-CBC');
  });

  it('an expired certificate', () => {
    const later = () => new Date(Date.now() + 400 * 86_400_000);
    const error = codeOf(() => importPfx({ importKey, clock: later }, request(good.pfx, 'right')));
    expect(error.code).toBe(ErrorCodes.badRequest);
    expect(error.clientMessage).toMatch(/expired on \d{4}-/);
  });

  it('a certificate not for S/MIME', () => {
    const tls = opensslPfx({ password: 'pw', eku: 'clientAuth,serverAuth' });
    const error = codeOf(() => importPfx({ importKey, clock: NOW }, request(tls.pfx, 'pw')));
    expect(error.code).toBe(ErrorCodes.badRequest);
    expect(error.clientMessage).toContain('clientAuth, serverAuth and lacks emailProtection');
  });

  it('a password encrypted to another import key, or not decryptable', () => {
    const other = ImportKey.fromPrivateKey(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey);
    const { ciphertext, keyId } = encryptImportPassword(other.publicKeyPem, 'right');
    const mismatch = codeOf(() =>
      importPfx(
        { importKey, clock: NOW },
        { ...request(good.pfx, 'right'), encryptedPassword: ciphertext, importKeyId: keyId },
      ),
    );
    expect(mismatch.code).toBe(ErrorCodes.badRequest);
    expect(mismatch.clientMessage).toContain(importKey.id);
    const undecryptable = codeOf(() =>
      importPfx({ importKey, clock: NOW }, { ...request(good.pfx, 'right'), encryptedPassword: ciphertext }),
    );
    expect(undecryptable.code).toBe(ErrorCodes.decrypt);
  });

  it('a device key that is not RSA', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    expect(
      codeOf(() => importPfx({ importKey, clock: NOW }, request(good.pfx, 'right', { devicePublicKey: ec })))
        .code,
    ).toBe(ErrorCodes.badRequest);
  });
});
