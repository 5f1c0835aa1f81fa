import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair, loadPrivateKey } from '../../../certs/keys.js';
import { firstDer, toPem } from '../../../certs/pem.js';
import { openssl } from '../../../certs/testing/openssl.js';
import { caHierarchyPki } from '../../../certs/testing/pki-presets.js';
import { buildPlainPkcs12 } from '../../../certs/testing/plain-pkcs12.js';
import type { TestPki } from '../../../certs/testing/test-pki.js';
import { ErrorCodes } from '../../../core/errors.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import type { ResolvedProfile } from '../ca-backend.js';
import { BuiltinCa, type BuiltinCaOptions } from './builtin-ca.js';

const profile: ResolvedProfile = {
  name: 'device',
  validityDays: 30,
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  eku: ['clientAuth'],
};

let pki: TestPki;
beforeAll(() => {
  pki = caHierarchyPki();
});
afterAll(() => pki.cleanup());

const certDer = (name: string) => firstDer(pki.read(`${name}.pem`).toString(), 'CERTIFICATE');

describe('BuiltinCa.importPkcs12', () => {
  let dir: string;
  let options: BuiltinCaOptions;

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'outpost-ca-p12-')), 'ca');
    options = { dir, inventory: new SqliteInventory(openDatabase(':memory:')), hash: 'sha256' };
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  async function issueLeaf(ca: BuiltinCa): Promise<string> {
    const csr = parseCsr(buildCsr('CN=device-1,O=Example', await generateKeyPair('ec-p256')));
    return toPem('CERTIFICATE', (await ca.issue({ csr, profile, requester: 'test' })).der);
  }

  it('imports the CA from an openssl export, makes an RA, and is what the directory reopens to', async () => {
    const der = pki.pkcs12('root', 'import me');
    const imported = await BuiltinCa.importPkcs12(options, { der, password: 'import me' });
    expect(imported.caCertificateDer).toEqual(certDer('root'));
    const ra = parseCertificate(imported.raCertificateDer);
    expect(ra.isCa).toBe(false);
    expect(ra.issuer.der).toEqual(imported.caCertificate.subject.der);
    expect(ra.keyUsage).toContain('keyEncipherment');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key', 'ra.key']) expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);

    const reopened = await BuiltinCa.open(options);
    expect(reopened.caCertificateDer).toEqual(certDer('root'));
    expect(reopened.raCertificateDer).toEqual(imported.raCertificateDer);
    const leaf = await issueLeaf(reopened);
    const out = openssl(['verify', '-CAfile', 'root.pem', 'leaf.pem'], {
      'root.pem': pki.read('root.pem'),
      'leaf.pem': leaf,
    });
    expect(out).toContain('leaf.pem: OK');
  });

  it('picks the keyed issuing CA (EC) out of a chain; its leaves verify up to the root', async () => {
    const der = pki.pkcs12('inter', 'pw', ['-certfile', 'root.pem', '-certpbe', 'PBE-SHA1-3DES']);
    const ca = await BuiltinCa.importPkcs12(options, { der, password: 'pw' });
    expect(ca.caCertificateDer).toEqual(certDer('inter'));
    expect(ca.caSigner.keyType).toMatch(/ec/i);
    // the RA is RSA whatever the CA key: SCEP clients only do RSA key transport
    expect(parseCertificate(ca.raCertificateDer).publicKey.asymmetricKeyType).toBe('rsa');
    const out = openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'inter.pem', 'leaf.pem'], {
      'root.pem': pki.read('root.pem'),
      'inter.pem': pki.read('inter.pem'),
      'leaf.pem': await issueLeaf(ca),
    });
    expect(out).toContain('leaf.pem: OK');
  });

  it('uses an RA that travels in the file with its key', async () => {
    const der = buildPlainPkcs12(
      {
        keys: [
          { privateKey: loadPrivateKey(pki.read('ra.key')).privateKey },
          { privateKey: loadPrivateKey(pki.read('root.key')).privateKey },
        ],
        certificates: [certDer('ra'), certDer('root')],
      },
      'pw',
      'sha256',
    );
    const ca = await BuiltinCa.importPkcs12(options, { der, password: 'pw' });
    expect(ca.caCertificateDer).toEqual(certDer('root'));
    expect(ca.raCertificateDer).toEqual(certDer('ra'));
    expect((await BuiltinCa.open(options)).raCertificateDer).toEqual(certDer('ra'));
  });

  it('writes nothing on a wrong password or a file without a keyed CA', async () => {
    await expect(
      BuiltinCa.importPkcs12(options, { der: pki.pkcs12('root', 'right'), password: 'wrong' }),
    ).rejects.toMatchObject({ code: ErrorCodes.badSignature });
    await expect(
      BuiltinCa.importPkcs12(options, { der: pki.pkcs12('ra', 'pw'), password: 'pw' }),
    ).rejects.toMatchObject({ code: ErrorCodes.config });
    expect(existsSync(join(dir, 'ca.pem'))).toBe(false);
    expect(existsSync(join(dir, 'ca.key'))).toBe(false);
  });

  it('refuses to replace existing material unless forced', async () => {
    await BuiltinCa.init({ ...options, keyAlgorithm: 'ec-p384' }, { force: false });
    const der = pki.pkcs12('root', 'pw');
    await expect(BuiltinCa.importPkcs12(options, { der, password: 'pw' })).rejects.toMatchObject({
      code: ErrorCodes.conflict,
    });
    const ca = await BuiltinCa.importPkcs12(options, { der, password: 'pw' }, { force: true });
    expect(ca.caCertificateDer).toEqual(certDer('root'));
  });
});
