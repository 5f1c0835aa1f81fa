import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../certs/certificate.js';
import { firstDer, toPem } from '../../../certs/pem.js';
import { openssl } from '../../../certs/testing/openssl.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { BuiltinCa } from './builtin-ca.js';
import { OcspSignerKeeper, type OcspSignerOptions } from './ocsp-signer.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const DAY = 24 * 3600 * 1000;

describe('OcspSignerKeeper', () => {
  let root: string;
  let dir: string;
  let ca: BuiltinCa;
  let now: Date;
  let options: OcspSignerOptions;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'outpost-ocsp-signer-'));
    dir = join(root, 'ca');
    now = NOW;
    const inventory = new SqliteInventory(openDatabase(':memory:'));
    ca = await BuiltinCa.open({ dir, keyAlgorithm: 'rsa-2048', inventory, clock: () => now });
    options = {
      store: ca.keyStore,
      ca: { cert: ca.caCertificate, signer: ca.caSigner },
      hash: 'sha256',
      clock: () => now,
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const onDisk = () => parseCertificate(firstDer(readFileSync(join(dir, 'ocsp.pem'), 'utf8'), 'CERTIFICATE'));

  it('makes a delegated signer on first start: key 0600, EKU OCSPSigning, nocheck, issued by the CA', async () => {
    const keeper = await OcspSignerKeeper.open(options);
    expect(statSync(join(dir, 'ocsp.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ocsp.pem')).mode & 0o777).toBe(0o600);
    const cert = keeper.certificate;
    expect(cert.der).toEqual(onDisk().der);
    expect(cert.subject.text).toContain('CN=Outpost Root CA OCSP Signer');
    expect(cert.notAfter.getTime() - NOW.getTime()).toBe(30 * DAY);
    const text = openssl(['x509', '-in', 'ocsp.pem', '-noout', '-text'], {
      'ocsp.pem': toPem('CERTIFICATE', cert.der),
    });
    expect(text).toContain('OCSP Signing');
    expect(text).toContain('OCSP No Check');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    const verified = openssl(
      [
        'verify',
        '-attime',
        String(NOW.getTime() / 1000 + 60),
        '-purpose',
        'ocsphelper',
        '-CAfile',
        'ca.pem',
        'ocsp.pem',
      ],
      { 'ca.pem': toPem('CERTIFICATE', ca.caCertificateDer), 'ocsp.pem': toPem('CERTIFICATE', cert.der) },
    );
    expect(verified).toContain('ocsp.pem: OK');
    const identity = await keeper.current(now);
    expect(identity.certDer).toEqual(cert.der);
    expect(identity.signer.keyType).toBe('rsa');
  });

  it('reloads the same signer on the next start', async () => {
    const first = await OcspSignerKeeper.open(options);
    const second = await OcspSignerKeeper.open(options);
    expect(second.certificate.der).toEqual(first.certificate.der);
  });

  it('renews after two thirds of the lifetime; another process adopts the renewed one from disk', async () => {
    const keeper = await OcspSignerKeeper.open(options);
    const other = await OcspSignerKeeper.open(options);
    const original = keeper.certificate.der;
    now = new Date(NOW.getTime() + 19 * DAY);
    expect((await keeper.current(now)).certDer).toEqual(original);
    now = new Date(NOW.getTime() + 21 * DAY);
    const [a, b] = await Promise.all([keeper.current(now), keeper.current(now)]);
    expect(a.certDer).not.toEqual(original);
    expect(b.certDer).toEqual(a.certDer); // one renewal for concurrent requests
    expect(onDisk().der).toEqual(a.certDer);
    expect((await other.current(now)).certDer).toEqual(a.certDer);
  });

  it('replaces a signer that another CA issued (after `ca init --force`)', async () => {
    const before = (await OcspSignerKeeper.open(options)).certificate;
    const inventory = new SqliteInventory(openDatabase(':memory:'));
    const newCa = await BuiltinCa.init(
      { dir, keyAlgorithm: 'rsa-2048', inventory, clock: () => now },
      { force: true },
    );
    const after = await OcspSignerKeeper.open({
      ...options,
      ca: { cert: newCa.caCertificate, signer: newCa.caSigner },
    });
    expect(after.certificate.der).not.toEqual(before.der);
    expect(after.certificate.issuer.der).toEqual(newCa.caCertificate.subject.der);
  });

  it('keeps answering with a still-valid signer when renewal fails, tryLater once it expired', async () => {
    const errors: unknown[] = [];
    const keeper = await OcspSignerKeeper.open({ ...options, onRenewalError: (e) => errors.push(e) });
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory'); // every write below fails with ENOTDIR
    now = new Date(NOW.getTime() + 25 * DAY);
    expect((await keeper.current(now)).certDer).toEqual(keeper.certificate.der);
    expect(errors).toHaveLength(1);
    now = new Date(NOW.getTime() + 31 * DAY);
    const failed = await keeper.current(now).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OutpostError);
    expect((failed as OutpostError).code).toBe(ErrorCodes.unavailable);
  });
});
