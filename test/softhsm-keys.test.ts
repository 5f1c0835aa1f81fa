import { constants, publicEncrypt, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateRef } from '../certs/cms/certificate-ref.js';
import { decryptEnvelopedData } from '../certs/cms/decrypt-enveloped-data.js';
import type { RecipientKey, RsaKeyTransportDecrypter } from '../certs/cms/index.js';
import { fixture, fixtureKey } from '../certs/cms/testing/fixtures.js';
import { buildCsr, parseCsr } from '../certs/csr.js';
import { generateKeyPair } from '../certs/keys.js';
import { toPem } from '../certs/pem.js';
import { opensslAll } from '../certs/testing/openssl.js';
import { BuiltinCa } from '../connector/ca/builtin/builtin-ca.js';
import { OcspSignerKeeper } from '../connector/ca/builtin/ocsp-signer.js';
import { FileKeyStore } from '../connector/ca/keys/file-key-store.js';
import { Pkcs11KeyStore, tokenLabel } from '../connector/ca/keys/pkcs11/pkcs11-key-store.js';
import { Pkcs11Token } from '../connector/ca/keys/pkcs11/pkcs11-token.js';
import { attributeBuffers, findObjects } from '../connector/ca/keys/pkcs11/token-objects.js';
import { openDatabase } from '../connector/store/database.js';
import { SqliteInventory } from '../connector/store/inventory.js';
import { ErrorCodes } from '../core/errors.js';
import { requirePeers } from './testing/peers.js';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from './testing/softhsm.js';

requirePeers('softhsm2-util', 'openssl');

const HOUR = 3600 * 1000;

// The signer port's PKCS#11 store against SoftHSM2 (Debian softhsm2), in this process: keys made
// or imported in a token never leave it, the CA signs certificates, CRLs and its OCSP signer
// there, and SCEP key transport (RSA PKCS#1 v1.5, CKM_RSA_PKCS) decrypts there with the same
// implicit rejection as file keys.
describe('PKCS#11 key store on SoftHSM2', () => {
  let hsm: SoftHsm;
  let root: string;
  const PIN = '246810';
  const tokens = {
    ca: 'outpost-ca-test',
    imported: 'outpost-import-test',
    moved: 'outpost-moved',
    ocsp: 'outpost-ocsp-renew',
    other: 'outpost-other',
  };
  const open = (label: string) =>
    Pkcs11KeyStore.open({ module: SOFTHSM_MODULE, tokenLabel: label, pin: PIN });

  beforeAll(() => {
    hsm = createSoftHsm();
    for (const label of Object.values(tokens)) hsm.initToken(label, PIN);
    root = mkdtempSync(join(tmpdir(), 'outpost-softhsm-ca-'));
  });
  afterAll(() => {
    hsm?.cleanup();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const inventory = () => new SqliteInventory(openDatabase(':memory:'));

  it('ca init generates CA and RA keys inside the token: sensitive, not extractable, certificates beside them', async () => {
    const store = open(tokens.ca);
    const ca = await BuiltinCa.init(
      { dir: join(root, 'init'), keyStore: store, keyAlgorithm: 'rsa-2048', inventory: inventory() },
      { force: false },
    );
    const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.ca, pin: PIN });
    try {
      for (const role of ['ca', 'ra'] as const) {
        const [key, ...more] = findObjects(token, pkcs11js.CKO_PRIVATE_KEY, [
          { type: pkcs11js.CKA_LABEL, value: tokenLabel(role) },
        ]);
        expect(more).toEqual([]);
        const [sensitive, extractable, neverExtractable, local] = attributeBuffers(token, key!, [
          pkcs11js.CKA_SENSITIVE,
          pkcs11js.CKA_EXTRACTABLE,
          pkcs11js.CKA_NEVER_EXTRACTABLE,
          pkcs11js.CKA_LOCAL,
        ]);
        // CK_BBOOL: generated in the token (LOCAL), sensitive, and never extractable
        expect([sensitive![0], extractable![0], neverExtractable![0], local![0]]).toEqual([1, 0, 1, 1]);
        expect(() =>
          token.lib.C_GetAttributeValue(token.session, key!, [{ type: pkcs11js.CKA_PRIVATE_EXPONENT }]),
        ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
        expect(
          findObjects(token, pkcs11js.CKO_CERTIFICATE, [
            { type: pkcs11js.CKA_LABEL, value: tokenLabel(role) },
          ]),
        ).toHaveLength(1);
      }
    } finally {
      token.release();
    }
    // No key file was written; the CRL (signed in the token) was.
    const files = new FileKeyStore(join(root, 'init'));
    expect(await files.hasAny(['ca', 'ra', 'ocsp'])).toBe(false);
    expect(ca.currentCrl()).toBeDefined();
    await expect(ca.exportPkcs12('pw')).rejects.toMatchObject({ code: ErrorCodes.unsupported });
    ca.close();

    // Another process (or node) on the same token loads the same CA and RA.
    const again = await BuiltinCa.open({
      dir: join(root, 'init-2'),
      keyStore: open(tokens.ca),
      inventory: inventory(),
    });
    expect(again.caCertificateDer).toEqual(ca.caCertificateDer);
    expect(again.raCertificateDer).toEqual(ca.raCertificateDer);
    await expect(
      BuiltinCa.init(
        { dir: join(root, 'init-3'), keyStore: again.keyStore, inventory: inventory() },
        { force: false },
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.conflict });
    again.close();
  });

  it('ca import moves a file CA (its `ca export` file) into the token; the keys become non-extractable', async () => {
    const fileCa = await BuiltinCa.init(
      { dir: join(root, 'file-ca'), keyAlgorithm: 'rsa-2048', inventory: inventory() },
      { force: false },
    );
    const der = await fileCa.exportPkcs12('into the token');
    const ca = await BuiltinCa.importPkcs12(
      { dir: join(root, 'token-ca'), keyStore: open(tokens.moved), inventory: inventory() },
      { der, password: 'into the token' },
    );
    expect(ca.caCertificateDer).toEqual(fileCa.caCertificateDer);
    expect(ca.raCertificateDer).toEqual(fileCa.raCertificateDer);
    ca.close();
    const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.moved, pin: PIN });
    try {
      const keys = findObjects(token, pkcs11js.CKO_PRIVATE_KEY, []);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        const [sensitive, extractable] = attributeBuffers(token, key, [
          pkcs11js.CKA_SENSITIVE,
          pkcs11js.CKA_EXTRACTABLE,
        ]);
        expect([sensitive![0], extractable![0]]).toEqual([1, 0]);
      }
    } finally {
      token.release();
    }
    const reopened = await BuiltinCa.open({
      dir: join(root, 'token-ca'),
      keyStore: open(tokens.moved),
      inventory: inventory(),
    });
    const signature = reopened.caSigner.sign(Buffer.from('tbs'), 'sha256');
    expect(verify('sha256', Buffer.from('tbs'), fileCa.caCertificate.publicKey, signature)).toBe(true);
    reopened.close();
  });

  it('issues certificates and CRLs with the CA key in the token (EC P-384), and openssl verifies both', async () => {
    const inv = inventory();
    const ca = await BuiltinCa.init(
      { dir: join(root, 'ec'), keyStore: open(tokens.other), keyAlgorithm: 'ec-p384', inventory: inv },
      { force: true },
    );
    try {
      const issued = await ca.issue({
        csr: parseCsr(buildCsr('CN=token-leaf', await generateKeyPair('ec-p256'))),
        profile: { name: 'device', validityDays: 30, keyUsage: ['digitalSignature'], eku: ['clientAuth'] },
        requester: 'test',
      });
      const caPem = toPem('CERTIFICATE', ca.caCertificateDer);
      const verified = opensslAll(['verify', '-CAfile', 'ca.pem', 'leaf.pem'], {
        'ca.pem': caPem,
        'leaf.pem': toPem('CERTIFICATE', issued.der),
      });
      expect(verified.output).toContain('leaf.pem: OK');
      const crl = opensslAll(['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'ca.pem', '-noout'], {
        'ca.pem': caPem,
        'crl.der': ca.currentCrl()!,
      });
      expect(crl.output).toContain('verify OK');

      // The delegated OCSP signer: its key generated in the token too, its certificate issued there.
      const keeper = await OcspSignerKeeper.open({
        store: ca.keyStore,
        ca: { cert: ca.caCertificate, signer: ca.caSigner },
        hash: 'sha256',
      });
      const identity = await keeper.current(new Date());
      const data = Buffer.from('tbsResponseData');
      const signature = identity.signer.sign(data, 'sha256');
      expect(verify('sha256', data, keeper.certificate.publicKey, signature)).toBe(true);
      expect(keeper.certificate.eku).toContain('ocspSigning');
      expect(await new FileKeyStore(join(root, 'ec')).hasAny(['ocsp'])).toBe(false);
    } finally {
      ca.close();
    }
  });

  it('renews the OCSP signer in the token, keeping the previous key until its certificate expires', async () => {
    const ca = await BuiltinCa.init(
      {
        dir: join(root, 'ocsp'),
        keyStore: open(tokens.ocsp),
        keyAlgorithm: 'rsa-2048',
        inventory: inventory(),
      },
      { force: false },
    );
    const start = Date.now();
    let now = new Date(start);
    const keeper = await OcspSignerKeeper.open({
      store: ca.keyStore,
      ca: { cert: ca.caCertificate, signer: ca.caSigner },
      hash: 'sha256',
      lifetimeMs: 3 * HOUR, // valid from an hour before: renewed after 2 h 40 min
      clock: () => now,
    });
    const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.ocsp, pin: PIN });
    const ocspIds = () =>
      findObjects(token, pkcs11js.CKO_PRIVATE_KEY, [{ type: pkcs11js.CKA_LABEL, value: 'outpost-ocsp' }])
        .map((key) => attributeBuffers(token, key, [pkcs11js.CKA_ID])[0]!.toString('hex'))
        .sort();
    try {
      const first = ocspIds();
      expect(first).toHaveLength(1);
      now = new Date(start + 2 * HOUR);
      await keeper.current(now);
      expect(keeper.certificate.notBefore.getTime()).toBeGreaterThan(start);
      const both = ocspIds();
      expect(both).toHaveLength(2); // the first key may still be in use by another process
      expect(both).toContain(first[0]);
      now = new Date(start + 4 * HOUR); // the first certificate has expired, the second is due
      await keeper.current(now);
      const after = ocspIds();
      expect(after).toHaveLength(2);
      expect(after).not.toContain(first[0]);
      const data = Buffer.from('response');
      const identity = await keeper.current(now);
      expect(verify('sha256', data, keeper.certificate.publicKey, identity.signer.sign(data, 'sha256'))).toBe(
        true,
      );
    } finally {
      token.release();
      ca.close();
    }
  });

  describe('SCEP key transport through the token (RA key imported from the CMS fixtures)', () => {
    let store: Pkcs11KeyStore;
    let reader: Pkcs11KeyStore;
    let tokenKey: RecipientKey;
    const fileKey = fixtureKey('rsa.key');
    const certDer = fixture('rsa.crt.der');
    const limits = { maxBytes: 64 * 1024 };

    beforeAll(async () => {
      store = open(tokens.imported);
      const key = await store.importKey('ra', fileKey);
      await store.save('ra', key, certDer);
      reader = open(tokens.imported); // as another process would: the key loaded from the token
      tokenKey = (await reader.load('ra'))!.key.decryptionKey!;
    });
    afterAll(() => {
      reader?.close();
      store?.close();
    });

    it.each([
      'enveloped-aes-256-cbc.der',
      'enveloped-des-ede3-cbc.der',
      'enveloped-des-cbc.der',
      'enveloped-oaep-sha1.der',
      'enveloped-two-recipients.der',
    ])('decrypts %s exactly as the file key does', (file) => {
      const viaToken = decryptEnvelopedData(fixture(file), { certDer, privateKey: tokenKey }, limits);
      const viaFile = decryptEnvelopedData(fixture(file), { certDer, privateKey: fileKey }, limits);
      expect(viaToken).toEqual(viaFile);
      expect(viaToken.content).toEqual(fixture('content.txt'));
    });

    const k = 256;
    const publicKey = certificateRef(certDer).publicKey();
    /** EM encoded by hand, then the raw RSA permutation, so that any padding can be sent. */
    function ciphertext(edit: (block: Buffer) => void = () => {}): { bytes: Buffer; key: Buffer } {
      const block = Buffer.alloc(k, 0x5a);
      block[0] = 0;
      block[1] = 2;
      block[k - 33] = 0;
      const key = Buffer.alloc(32, 0xc3);
      key.copy(block, k - 32);
      edit(block);
      return { bytes: publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, block), key };
    }

    it.each([
      ['first byte not 0', (b: Buffer) => b.writeUInt8(1, 0)],
      ['block type 1', (b: Buffer) => b.writeUInt8(1, 1)],
      ['zero inside PS', (b: Buffer) => b.writeUInt8(0, 5)],
      ['no separator', (b: Buffer) => b.writeUInt8(7, k - 33)],
      ['a 16-byte key where 32 are expected', (b: Buffer) => b.writeUInt8(0, k - 17)],
    ])(
      'on %s (C_Decrypt fails or answers another length) returns a synthetic key, the same on every call and every session',
      async (_name, edit) => {
        const decrypter = tokenKey as RsaKeyTransportDecrypter;
        const { bytes, key } = ciphertext(edit);
        const first = decrypter.unwrapPkcs1v15(bytes, 32);
        expect(first).toHaveLength(32);
        expect(first).not.toEqual(key);
        expect(decrypter.unwrapPkcs1v15(bytes, 32)).toEqual(first);
        // another store instance (another process or node on the token) picks the same one
        const other = open(tokens.imported);
        const elsewhere = (await other.load('ra'))!.key.decryptionKey as RsaKeyTransportDecrypter;
        expect(elsewhere.unwrapPkcs1v15(bytes, 32)).toEqual(first);
        other.close();
        expect(decrypter.unwrapPkcs1v15(ciphertext(edit).bytes, 32)).toEqual(first); // raw RSA is deterministic
        const { bytes: good, key: real } = ciphertext();
        expect(decrypter.unwrapPkcs1v15(good, 32)).toEqual(real); // the session still works after a failure
      },
    );

    it('fails a bad-padding envelope exactly like an envelope to another key', () => {
      const envelope = Buffer.from(fixture('enveloped-aes-256-cbc.der'));
      // swap the encrypted key (the only 256-byte OCTET STRING) for one with broken padding
      const at = envelope.indexOf(Buffer.from([0x04, 0x82, 0x01, 0x00])) + 4;
      ciphertext((b) => b.writeUInt8(1, 1)).bytes.copy(envelope, at);
      const failure = (der: Buffer) => {
        try {
          decryptEnvelopedData(der, { certDer, privateKey: tokenKey }, limits);
        } catch (e) {
          const error = e as { code: string; clientMessage: string };
          return { code: error.code, clientMessage: error.clientMessage };
        }
        throw new Error('decrypted');
      };
      expect(failure(envelope)).toEqual({ code: ErrorCodes.decrypt, clientMessage: 'could not decrypt' });
      expect(failure(fixture('enveloped-to-other.der'))).toEqual(failure(envelope));
    });

    it('opens a new session and logs in again when the token dropped every session (an HSM reconnect)', async () => {
      const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.imported, pin: PIN });
      const before = token.session;
      token.lib.C_CloseAllSessions(token.slot); // the last session closed: logged out too
      expect(await reader.health()).toEqual({ ok: true, detail: `pkcs11 token "${tokens.imported}"` });
      token.lib.C_CloseAllSessions(token.slot);
      const viaToken = decryptEnvelopedData(
        fixture('enveloped-aes-256-cbc.der'),
        { certDer, privateKey: tokenKey },
        limits,
      );
      expect(viaToken.content).toEqual(fixture('content.txt'));
      expect(token.session).not.toEqual(before);
      token.lib.C_CloseAllSessions(token.slot);
      const signer = (await store.load('ra'))?.key.signer;
      expect(() => signer!.sign(Buffer.from('x'), 'sha256')).not.toThrow();
      token.release();
    });

    it('keeps the imported key in the token, not extractable', () => {
      const token = Pkcs11Token.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.imported, pin: PIN });
      try {
        const [key] = findObjects(token, pkcs11js.CKO_PRIVATE_KEY, [
          { type: pkcs11js.CKA_LABEL, value: 'outpost-ra' },
        ]);
        const [sensitive, extractable] = attributeBuffers(token, key!, [
          pkcs11js.CKA_SENSITIVE,
          pkcs11js.CKA_EXTRACTABLE,
        ]);
        expect([sensitive![0], extractable![0]]).toEqual([1, 0]);
      } finally {
        token.release();
      }
    });
  });

  it.each([
    [
      'a wrong PIN',
      () => Pkcs11KeyStore.open({ module: SOFTHSM_MODULE, tokenLabel: tokens.other, pin: '000000' }),
      /refused the PIN in keys\.pkcs11\.pinFile \(CKR_PIN_INCORRECT\)/,
    ],
    [
      'a missing module',
      () => Pkcs11KeyStore.open({ module: '/nonexistent/libpkcs11.so', tokenLabel: tokens.other, pin: PIN }),
      /cannot load the PKCS#11 module \/nonexistent\/libpkcs11\.so \(keys\.pkcs11\.module\): cannot open shared object file/,
    ],
    [
      'an unknown token label',
      () => Pkcs11KeyStore.open({ module: SOFTHSM_MODULE, tokenLabel: 'no-such-token', pin: PIN }),
      /no PKCS#11 token labelled "no-such-token" \(keys\.pkcs11\.tokenLabel\).*tokens present: .*"outpost-other"/,
    ],
  ])(
    'refuses to open with %s: OUTPOST_ERR_KEY_STORE and a message that says what to fix',
    (_name, opening, message) => {
      let error: unknown;
      try {
        opening().close();
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: ErrorCodes.keyStore, message: expect.stringMatching(message) });
    },
  );
});
