import { describe, expect, it } from 'vitest';
import { buildEnvelopedData } from './build-enveloped-data.js';
import { buildDegenerateCertsOnly, buildSignedData } from './build-signed-data.js';
import { contentCipherByName, generateContentKey } from './content-ciphers.js';
import { decodeSignedData } from './decode-signed-data.js';
import { decryptEnvelopedData } from './decrypt-enveloped-data.js';
import { printableString } from './der-writer.js';
import { Oid } from './oids.js';
import { fixture, fixtureKey, fixtureSigner, legacyProviders, openssl } from './testing/fixtures.js';
import { verifySignerInfo } from './verify-signer-info.js';

const content = Buffer.from('outpost signed content');
const limits = { maxBytes: 64 * 1024 };

describe('buildSignedData', () => {
  it.each([
    { signer: 'rsa', hash: 'sha256' },
    { signer: 'rsa', hash: 'sha1' },
    { signer: 'rsa', hash: 'sha512' },
    { signer: 'ec', hash: 'sha256' },
    { signer: 'ec', hash: 'sha384' },
  ] as const)('$signer/$hash verifies with openssl and with verifySignerInfo', ({ signer, hash }) => {
    const certDer = fixture(`${signer}.crt.der`);
    const der = buildSignedData({
      contentType: Oid.data,
      content,
      certificates: [certDer],
      signerCertDer: certDer,
      signer: fixtureSigner(`${signer}.key`),
      hash,
      signedAttributes: [{ oid: '2.16.840.1.113733.1.9.7', values: [printableString('tx-1')] }],
    });
    const out = openssl(['cms', '-verify', '-noverify', '-inform', 'DER', '-binary'], der);
    expect(out).toEqual(content);
    const decoded = decodeSignedData(der, limits);
    expect(decoded.signers[0]!.signedAttributes.get('2.16.840.1.113733.1.9.7')).toEqual([
      printableString('tx-1'),
    ]);
    verifySignerInfo(decoded.signers[0]!, certDer, decoded.content!, Oid.data);
  });

  it('builds a content-less SignedData that openssl parses and whose signature verifies', () => {
    const certDer = fixture('rsa.crt.der');
    const der = buildSignedData({
      contentType: Oid.data,
      certificates: [certDer],
      signerCertDer: certDer,
      signer: fixtureSigner('rsa.key'),
      hash: 'sha256',
    });
    const decoded = decodeSignedData(der, limits);
    expect(decoded.content).toBeUndefined();
    verifySignerInfo(decoded.signers[0]!, certDer, Buffer.alloc(0));
    expect(openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], der).toString()).toContain(
      'eContent: <ABSENT>',
    );
  });
});

describe('buildDegenerateCertsOnly', () => {
  it('keeps certificate order and parses with openssl pkcs7', () => {
    const certs = [fixture('other.crt.der'), fixture('rsa.crt.der'), fixture('ec.crt.der')];
    const der = buildDegenerateCertsOnly(certs);
    const printed = openssl(['pkcs7', '-inform', 'DER', '-print_certs', '-noout'], der).toString();
    expect(printed.indexOf('CMS Other RSA')).toBeLessThan(printed.indexOf('CMS Test RSA'));
    expect(printed.indexOf('CMS Test RSA')).toBeLessThan(printed.indexOf('CMS Test EC'));
    const decoded = decodeSignedData(der, limits);
    expect(decoded.certificates).toEqual(certs);
    expect(decoded.signers).toEqual([]);
  });
});

describe('buildEnvelopedData', () => {
  const recipientCert = fixture('rsa.crt.der');
  it.each([
    { cipher: 'aes-256-cbc', keyTransport: 'rsa-pkcs1' },
    { cipher: 'aes-128-cbc', keyTransport: 'rsa-pkcs1' },
    { cipher: 'des-ede3-cbc', keyTransport: 'rsa-pkcs1' },
    { cipher: 'des-cbc', keyTransport: 'rsa-pkcs1' },
    { cipher: 'aes-256-cbc', keyTransport: 'rsa-oaep-sha256' },
  ] as const)('$cipher/$keyTransport decrypts with openssl and with decryptEnvelopedData', (options) => {
    const der = buildEnvelopedData(content, recipientCert, options);
    const providers = options.cipher === 'des-cbc' ? legacyProviders : [];
    const args = [
      'cms',
      '-decrypt',
      ...providers,
      '-inform',
      'DER',
      '-inkey',
      'rsa.key',
      '-recip',
      'rsa.crt',
      '-binary',
    ];
    expect(openssl(args, der)).toEqual(content);
    const decrypted = decryptEnvelopedData(
      der,
      { certDer: recipientCert, privateKey: fixtureKey('rsa.key') },
      limits,
    );
    expect(decrypted).toMatchObject({ content, contentCipher: options.cipher });
  });

  it.each(['des-cbc', 'des-ede3-cbc'] as const)('generates %s keys with odd parity', (name) => {
    const key = generateContentKey(contentCipherByName(name));
    for (const byte of key) expect(byte.toString(2).replaceAll('0', '').length % 2).toBe(1);
  });
});
