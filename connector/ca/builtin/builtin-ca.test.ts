import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { certificateThumbprint, parseCertificate } from '../../../certs/certificate.js';
import { parseCrlInfo } from '../../../certs/crl.js';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair, type KeyPair } from '../../../certs/keys.js';
import { toPem } from '../../../certs/pem.js';
import { openssl, opensslAll } from '../../../certs/testing/openssl.js';
import { ErrorCodes } from '../../../core/errors.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import type { ResolvedProfile } from '../ca-backend.js';
import { BuiltinCa, type BuiltinCaOptions } from './builtin-ca.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const HOUR = 3600 * 1000;
const profile: ResolvedProfile = {
  name: 'device',
  validityDays: 365,
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  eku: ['clientAuth'],
};

let deviceKey: KeyPair;
beforeAll(async () => {
  deviceKey = await generateKeyPair('ec-p256');
});

describe('BuiltinCa', () => {
  let dir: string;
  let inventory: SqliteInventory;
  let now: Date;
  let options: BuiltinCaOptions;

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'outpost-ca-')), 'ca');
    inventory = new SqliteInventory(openDatabase(':memory:'));
    now = NOW;
    options = {
      dir,
      keyAlgorithm: 'rsa-2048',
      inventory,
      clock: () => now,
      crlUrl: 'http://outpost.test/crl.der',
    };
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  const files = (ca: BuiltinCa, extra: Record<string, Buffer | string> = {}) => ({
    'ca.pem': toPem('CERTIFICATE', ca.caCertificateDer),
    ...extra,
  });
  const attime = String(NOW.getTime() / 1000 + 60);

  function csr(subject = 'CN=device-1,O=Example') {
    return parseCsr(
      buildCsr(subject, deviceKey, { sans: { dns: ['device-1.corp.test'], upn: ['u@corp.test'] } }),
    );
  }

  it('creates material with private modes on first start and reloads it', async () => {
    const first = await BuiltinCa.open(options);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key', 'ra.key']) expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);
    for (const name of ['ca.pem', 'ra.pem', 'crl.der']) expect(statSync(join(dir, name)).isFile()).toBe(true);
    const second = await BuiltinCa.open(options);
    expect(second.caCertificateDer).toEqual(first.caCertificateDer);
    expect(second.raCertificateDer).toEqual(first.raCertificateDer);
    expect(second.currentCrl()).toEqual(first.currentCrl());
    expect(first.caChain()).toEqual([first.caCertificateDer]);
  });

  it('makes a root and an RA as specified', async () => {
    const ca = await BuiltinCa.open({ ...options, keyAlgorithm: 'ec-p384' });
    const root = parseCertificate(ca.caCertificateDer);
    expect(root.subject.text).toBe('CN=Outpost Root CA,O=Outpost');
    expect(root).toMatchObject({ isCa: true, keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'] });
    expect(root.notAfter.getUTCFullYear()).toBe(2035);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    const ra = parseCertificate(ca.raCertificateDer);
    expect(ra.subject.text).toBe('CN=Outpost Root CA SCEP RA,O=Outpost');
    expect(ra).toMatchObject({ isCa: false, keyUsage: ['digitalSignature', 'keyEncipherment'] });
    expect(ca.raCertificate.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(ca.raSigner.keyType).toBe('rsa');
    const out = openssl(
      ['verify', '-CAfile', 'ca.pem', '-attime', attime, 'ra.pem'],
      files(ca, { 'ra.pem': toPem('CERTIFICATE', ca.raCertificateDer) }),
    );
    expect(out).toContain('ra.pem: OK');
  });

  it('init refuses to overwrite unless forced', async () => {
    const first = await BuiltinCa.init(options, { force: false });
    await expect(BuiltinCa.init(options, { force: false })).rejects.toMatchObject({
      code: ErrorCodes.conflict,
    });
    const replaced = await BuiltinCa.init(options, { force: true });
    expect(replaced.caCertificateDer).not.toEqual(first.caCertificateDer);
    expect((await BuiltinCa.open(options)).caCertificateDer).toEqual(replaced.caCertificateDer);
  });

  it('issues a certificate openssl verifies, with profile KU/EKU, SANs and CDP', async () => {
    const ca = await BuiltinCa.open(options);
    const issued = await ca.issue({ csr: csr(), profile, requester: 'test' });
    expect(issued.notBefore).toEqual(new Date(NOW.getTime() - 5 * 60 * 1000));
    expect(issued.notAfter).toEqual(new Date(NOW.getTime() + 365 * 24 * HOUR));
    const f = files(ca, { 'leaf.pem': toPem('CERTIFICATE', issued.der) });
    expect(openssl(['verify', '-CAfile', 'ca.pem', '-attime', attime, 'leaf.pem'], f)).toContain(
      'leaf.pem: OK',
    );
    const text = openssl(['x509', '-in', 'leaf.pem', '-noout', '-text'], f);
    expect(text).toContain('Digital Signature, Key Encipherment');
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).toContain('DNS:device-1.corp.test');
    expect(text).toContain('URI:http://outpost.test/crl.der');
    expect(text).toContain('Subject: O = Example, CN = device-1'); // openssl prints encoding order
    const leaf = parseCertificate(issued.der);
    expect(leaf.serialHex).toBe(issued.serialHex);
    expect(leaf.spkiDer).toEqual(csr().spkiDer);
  });

  it('uses the SANs given over the CSR ones and never outlives the CA', async () => {
    const ca = await BuiltinCa.open(options);
    const sans = { dns: ['override.test'], email: [], uri: [], ip: [], upn: [] };
    const issued = await ca.issue({
      csr: csr(),
      profile: { ...profile, validityDays: 100_000 },
      requester: 't',
      sans,
    });
    expect(issued.notAfter).toEqual(parseCertificate(ca.caCertificateDer).notAfter);
    expect(parseCertificate(issued.der).sans.dns).toEqual(['override.test']);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const ca = await BuiltinCa.open(options);
    await expect(
      ca.issue({ csr: { ...csr(), signatureValid: false }, profile, requester: 't' }),
    ).rejects.toMatchObject({
      code: ErrorCodes.badSignature,
    });
  });

  it('gives unique serials over 1,000 issuances', async () => {
    const ca = await BuiltinCa.open(options);
    const request = { csr: csr(), profile, requester: 't' };
    const serials = new Set<string>();
    for (let i = 0; i < 1000; i++) serials.add((await ca.issue(request)).serialHex);
    expect(serials.size).toBe(1000);
  });

  it('publishes a revoked serial in a CRL that verifies against the CA, persisted atomically', async () => {
    const ca = await BuiltinCa.open(options);
    const issued = await ca.issue({ csr: csr(), profile, requester: 't' });
    await inventory.record({
      serialHex: issued.serialHex,
      subject: 'CN=device-1,O=Example',
      sans: [],
      profile: 'device',
      requester: 't',
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      status: 'valid',
      thumbprint: certificateThumbprint(issued.der),
      der: issued.der,
    });
    const before = parseCrlInfo(ca.currentCrl()!);
    now = new Date(NOW.getTime() + HOUR);
    inventory.markRevoked(issued.serialHex, 'keyCompromise', now);
    await ca.revoke(issued.serialHex, 'keyCompromise');
    const crl = ca.currentCrl()!;
    expect(parseCrlInfo(crl)).toMatchObject({
      crlNumber: before.crlNumber! + 1n,
      revokedCount: 1,
      thisUpdate: now,
    });
    expect(readFileSync(join(dir, 'crl.der'))).toEqual(crl);
    const { output } = opensslAll(
      ['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'ca.pem', '-noout', '-text'],
      files(ca, { 'crl.der': crl }),
    );
    expect(output).toContain('verify OK');
    expect(output).toContain(`Serial Number: ${issued.serialHex.toUpperCase()}`);
    expect(output).toContain('Key Compromise');
    expect(output).toContain('Next Update: Mar  8 13:00:00 2025 GMT');

    await expect(ca.revoke('abcdef', 'unspecified')).rejects.toMatchObject({ code: ErrorCodes.notFound });
    const reopened = await BuiltinCa.open(options);
    expect(reopened.currentCrl()).toEqual(crl);
  });

  it('refreshes the CRL when less than half of its lifetime remains', async () => {
    const ca = await BuiltinCa.open({ ...options, crlValidityHours: 10 });
    const first = parseCrlInfo(ca.currentCrl()!);
    expect(await ca.refreshCrlIfDue(new Date(NOW.getTime() + 4 * HOUR))).toBe(false);
    expect(await ca.refreshCrlIfDue(new Date(NOW.getTime() + 5 * HOUR))).toBe(true);
    const second = parseCrlInfo(ca.currentCrl()!);
    expect(second.crlNumber).toBe(first.crlNumber! + 1n);
    expect(second.nextUpdate).toEqual(new Date(NOW.getTime() + 15 * HOUR));
  });

  it('imports a CA from PEM and makes a new RA for it', async () => {
    const source = await BuiltinCa.open(options);
    const caKeyPem = readFileSync(join(dir, 'ca.key'), 'utf8');
    const target = { ...options, dir: join(dir, '..', 'imported') };
    const imported = await BuiltinCa.importPem(target, {
      caCertPem: toPem('CERTIFICATE', source.caCertificateDer),
      caKeyPem,
    });
    expect(imported.caCertificateDer).toEqual(source.caCertificateDer);
    expect(imported.raCertificateDer).not.toEqual(source.raCertificateDer);
    expect(statSync(join(target.dir, 'ca.key')).mode & 0o777).toBe(0o600);
    await expect(
      BuiltinCa.importPem(target, { caCertPem: toPem('CERTIFICATE', source.caCertificateDer), caKeyPem }),
    ).rejects.toMatchObject({ code: ErrorCodes.conflict });
    const wrongKey = readFileSync(join(dir, 'ra.key'), 'utf8');
    await expect(
      BuiltinCa.importPem(
        { ...target, dir: join(dir, '..', 'wrong') },
        { caCertPem: toPem('CERTIFICATE', source.caCertificateDer), caKeyPem: wrongKey },
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.config });
  });
});
