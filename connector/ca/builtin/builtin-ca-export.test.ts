import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildEnvelopedData } from '../../../certs/cms/build-enveloped-data.js';
import { decryptEnvelopedData } from '../../../certs/cms/decrypt-enveloped-data.js';
import { buildCsr, parseCsr } from '../../../certs/csr.js';
import { generateKeyPair } from '../../../certs/keys.js';
import { toPem } from '../../../certs/pem.js';
import { opensslAll } from '../../../certs/testing/openssl.js';
import { ErrorCodes } from '../../../core/errors.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import type { ResolvedProfile } from '../ca-backend.js';
import { BuiltinCa } from './builtin-ca.js';

const profile: ResolvedProfile = {
  name: 'device',
  validityDays: 30,
  keyUsage: ['digitalSignature'],
  eku: ['clientAuth'],
};

// `outpost ca export --pkcs12` on one node, `outpost ca import FILE` on another: the second node
// is the same CA with the same RA (devices keep the GetCACert answer they cached).
describe('BuiltinCa.exportPkcs12 → importPkcs12 (file keys, moving a CA to another node)', () => {
  let root: string;
  const options = (name: string) => ({
    dir: join(root, name, 'ca'),
    keyAlgorithm: 'ec-p384' as const,
    inventory: new SqliteInventory(openDatabase(':memory:')),
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'outpost-ca-export-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('round-trips the CA and the RA with their keys; openssl reads the file', async () => {
    const a = await BuiltinCa.init(options('a'), { force: false });
    const der = await a.exportPkcs12('move me');

    const info = opensslAll(['pkcs12', '-in', 'ca.p12', '-passin', 'pass:move me', '-info', '-nokeys'], {
      'ca.p12': der,
    });
    expect(info.status, info.output).toBe(0);
    expect(info.output).toContain('MAC: sha256');
    expect(info.output).toContain('friendlyName: Outpost CA');
    expect(info.output).toContain('friendlyName: Outpost SCEP RA');
    expect(info.output.match(/Shrouded Keybag/g)).toHaveLength(2);

    const b = await BuiltinCa.importPkcs12(options('b'), { der, password: 'move me' });
    expect(b.caCertificateDer).toEqual(a.caCertificateDer);
    expect(b.raCertificateDer).toEqual(a.raCertificateDer);
    for (const key of ['ca.key', 'ra.key']) {
      expect(readFileSync(join(root, 'b', 'ca', key), 'utf8')).toBe(
        readFileSync(join(root, 'a', 'ca', key), 'utf8'),
      );
    }

    // B issues what A's CA certificate verifies, and decrypts a request encrypted to A's RA.
    const csr = parseCsr(buildCsr('CN=moved', await generateKeyPair('ec-p256')));
    const leaf = await b.issue({ csr, profile, requester: 'test' });
    const verified = opensslAll(['verify', '-CAfile', 'a.pem', 'leaf.pem'], {
      'a.pem': toPem('CERTIFICATE', a.caCertificateDer),
      'leaf.pem': toPem('CERTIFICATE', leaf.der),
    });
    expect(verified.output).toContain('leaf.pem: OK');
    const envelope = buildEnvelopedData(Buffer.from('pkcsReq'), a.raCertificateDer, {
      cipher: 'aes-256-cbc',
      keyTransport: 'rsa-pkcs1',
    });
    const opened = decryptEnvelopedData(
      envelope,
      { certDer: b.raCertificateDer, privateKey: b.raDecryptionKey },
      { maxBytes: 65536 },
    );
    expect(opened.content.toString()).toBe('pkcsReq');
  });

  it('refuses a wrong password and leaves the target empty', async () => {
    const a = await BuiltinCa.init(options('a'), { force: false });
    const der = await a.exportPkcs12('right');
    await expect(BuiltinCa.importPkcs12(options('b'), { der, password: 'wrong' })).rejects.toMatchObject({
      code: ErrorCodes.badSignature,
    });
    const reopened = await BuiltinCa.open(options('b')); // nothing was imported: a new CA is made
    expect(reopened.caCertificateDer).not.toEqual(a.caCertificateDer);
  });
});
