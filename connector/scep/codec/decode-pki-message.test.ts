import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { octetString, printableString } from '../../../certs/cms/der-writer.js';
import { buildSignedData, decodeSignedData, Oid } from '../../../certs/cms/index.js';
import { parseCsr } from '../../../certs/csr.js';
import { ErrorCodes } from '../../../core/errors.js';
import { MessageType, ScepOid } from './constants.js';
import { decodePkiMessage, identifyPkiMessage } from './decode-pki-message.js';
import { encodePkiMessage, type PkiMessageInput } from './encode-pki-message.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture, fixtureKey, fixtureSigner, openssl } from './testing/fixtures.js';

const maxBytes = 64 * 1024;

describe('decodePkiMessage on requests captured from micromdm scepclient 2.1.0', () => {
  const ra = {
    raCertDer: fixture('scepserver-ca.crt.der'),
    raPrivateKey: fixtureKey('scepserver-ca.key'),
    maxBytes,
  };
  it.each([
    { file: 'scepclient-pkcsreq.der', messageType: MessageType.PKCSReq, signer: 'CN=SCEP SIGNER' },
    { file: 'scepclient-renewalreq.der', messageType: MessageType.RenewalReq, signer: 'CN=fixture-device-1' },
  ])('$file', ({ file, messageType, signer }) => {
    const message = decodePkiMessage(fixture(file), ra);
    expect(message).toMatchObject({
      messageType,
      digestAlgorithm: 'sha1',
      contentCipher: 'des-cbc',
      keyTransport: 'rsa-pkcs1',
    });
    expect(message.transactionId).toMatch(/^[A-Za-z0-9+/=]{28}$/);
    expect(message.senderNonce).toHaveLength(16);
    expect(new X509Certificate(message.signerCertDer).subject).toContain(signer);
    expect(message.payload.kind).toBe('csr');
    if (message.payload.kind !== 'csr') return;
    const text = openssl(
      ['req', '-inform', 'DER', '-noout', '-verify', '-subject'],
      message.payload.csrDer,
    ).toString();
    expect(text).toContain('CN = fixture-device-1');
  });

  it('certmonger 0.79 PKCSReq, sent as a percent-encoded standard-base64 GET parameter', () => {
    const param = fixture('certmonger-pkcsreq.get-param.txt').toString().trim();
    const message = decodePkiMessage(decodeGetMessageParam(param), ra);
    expect(message).toMatchObject({
      messageType: MessageType.PKCSReq,
      digestAlgorithm: 'sha256',
      contentCipher: 'aes-256-cbc',
      keyTransport: 'rsa-pkcs1',
    });
    expect(message.payload.kind).toBe('csr');
    if (message.payload.kind !== 'csr') return;
    const text = openssl(
      ['req', '-inform', 'DER', '-noout', '-verify', '-subject'],
      message.payload.csrDer,
    ).toString();
    expect(text).toContain('CN = cm-fixture-1');
  });

  it('fails with decrypt, not a decode error, under a different RA key', () => {
    expect(() =>
      decodePkiMessage(fixture('scepclient-pkcsreq.der'), { ...ra, raPrivateKey: fixtureKey('ra.key') }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.decrypt }));
  });
});

describe('decodePkiMessage on requests captured from strongSwan pki --scep 5.9.8', () => {
  const ra = {
    raCertDer: fixture('scepserver-ca.crt.der'),
    raPrivateKey: fixtureKey('scepserver-ca.key'),
    maxBytes,
  };

  it('verifies an RSASSA-PSS signature (--rsa-padding pss: SHA-256, MGF1-SHA-256, salt 32) and reads its PSS-signed CSR', () => {
    const message = decodePkiMessage(fixture('strongswan-pss-pkcsreq.der'), ra);
    expect(message).toMatchObject({
      messageType: MessageType.PKCSReq,
      digestAlgorithm: 'sha256',
      contentCipher: 'aes-128-cbc',
      transactionId: 'D272998AD5FA048D00F074DFDF45582E57B1D0A5',
    });
    if (message.payload.kind !== 'csr') throw new Error('no CSR');
    const text = openssl(['req', '-inform', 'DER', '-noout', '-verify', '-text'], message.payload.csrDer);
    expect(text.toString()).toContain('rsassaPss');
    expect(parseCsr(message.payload.csrDer)).toMatchObject({ signatureValid: true });
  });

  it('refuses the PSS request with badSignature once a byte of its signature changes', () => {
    const der = Buffer.from(fixture('strongswan-pss-pkcsreq.der'));
    const signature = decodeSignedData(der, { maxBytes }).signers[0]!.signature;
    const at = der.indexOf(signature);
    der[at + 10] = der[at + 10]! ^ 0x01;
    expect(() => decodePkiMessage(der, ra)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });

  it('refuses --digest sha224 with unsupportedAlgorithm, and identifyPkiMessage still addresses a reply to it', () => {
    const der = fixture('strongswan-sha224-pkcsreq.der');
    expect(() => decodePkiMessage(der, ra)).toThrow(
      expect.objectContaining({ code: ErrorCodes.unsupportedAlgorithm }),
    );
    const identity = identifyPkiMessage(der, { maxBytes });
    expect(identity).toMatchObject({
      messageType: MessageType.PKCSReq,
      transactionId: 'D272998AD5FA048D00F074DFDF45582E57B1D0A5',
    });
    expect(identity.senderNonce).toHaveLength(16);
    expect(identity.digestAlgorithm).toBeUndefined();
  });
});

describe('encodePkiMessage → decodePkiMessage', () => {
  const raCertDer = fixture('ra.crt.der');
  const requesterCertDer = fixture('requester.crt.der');
  const base: PkiMessageInput = {
    messageType: MessageType.PKCSReq,
    transactionId: 'tx-0001',
    senderNonce: Buffer.alloc(16, 7),
    payload: { kind: 'csr', csrDer: fixture('device.csr.der') },
    signerCertDer: requesterCertDer,
    signer: fixtureSigner('requester.key'),
    recipientCertDer: raCertDer,
    cipher: 'aes-256-cbc',
    hash: 'sha256',
  };
  const options = { raCertDer, raPrivateKey: fixtureKey('ra.key'), maxBytes };
  const scepAttributes = [
    { oid: ScepOid.messageType, values: [printableString('19')] },
    { oid: ScepOid.transactionId, values: [printableString('xx')] },
    { oid: ScepOid.senderNonce, values: [octetString(Buffer.alloc(16, 7))] },
  ];

  /** Re-signs the pkcsPKIEnvelope of a valid request with chosen certificates and attributes. */
  function resign(certificates: Buffer[], signedAttributes = scepAttributes): Buffer {
    const envelope = openssl(
      ['cms', '-verify', '-noverify', '-inform', 'DER', '-binary'],
      encodePkiMessage(base),
    );
    return buildSignedData({
      contentType: Oid.data,
      content: envelope,
      certificates,
      signerCertDer: requesterCertDer,
      signer: fixtureSigner('requester.key'),
      hash: 'sha256',
      signedAttributes,
    });
  }

  it.each([
    { name: 'PKCSReq AES-256 SHA-256', input: base },
    {
      name: 'RenewalReq 3DES SHA-1',
      input: { ...base, messageType: MessageType.RenewalReq, cipher: 'des-ede3-cbc', hash: 'sha1' },
    },
    { name: 'PKCSReq DES SHA-512', input: { ...base, cipher: 'des-cbc', hash: 'sha512' } },
    { name: 'PKCSReq OAEP', input: { ...base, keyTransport: 'rsa-oaep-sha256' } },
    {
      name: 'CertPoll',
      input: {
        ...base,
        messageType: MessageType.CertPoll,
        payload: {
          kind: 'issuerAndSubject',
          issuerDer: Buffer.from('3000', 'hex'),
          subjectDer: Buffer.from('3000', 'hex'),
        },
      },
    },
    {
      name: 'GetCert',
      input: {
        ...base,
        messageType: MessageType.GetCert,
        payload: { kind: 'issuerAndSerial', issuerDer: Buffer.from('3000', 'hex'), serialHex: '00ff10' },
      },
    },
    {
      name: 'GetCRL',
      input: {
        ...base,
        messageType: MessageType.GetCRL,
        payload: { kind: 'issuerAndSerial', issuerDer: Buffer.from('3000', 'hex'), serialHex: '01' },
      },
    },
  ] as { name: string; input: PkiMessageInput }[])('$name', ({ input }) => {
    const message = decodePkiMessage(encodePkiMessage(input), options);
    expect(message).toMatchObject({
      messageType: input.messageType,
      transactionId: input.transactionId,
      senderNonce: input.senderNonce,
      signerCertDer: requesterCertDer,
      digestAlgorithm: input.hash,
      contentCipher: input.cipher,
      payload: input.payload,
    });
  });

  it('finds the signer certificate by sid, not by position', () => {
    const message = decodePkiMessage(resign([raCertDer, requesterCertDer]), options);
    expect(message.signerCertDer).toEqual(requesterCertDer);
    expect(message.transactionId).toBe('xx');
  });

  it.each([
    { name: 'signer cert missing', certificates: [fixture('ra.crt.der')] },
    { name: 'no certificates', certificates: [] },
  ])('$name → badSignature', ({ certificates }) => {
    expect(() => decodePkiMessage(resign(certificates), options)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });

  it('rejects a message signed by another key than its certificate with badSignature', () => {
    const der = encodePkiMessage({ ...base, signer: fixtureSigner('ra.key') });
    expect(() => decodePkiMessage(der, options)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });

  it.each([
    { name: 'missing transactionID', drop: ScepOid.transactionId },
    { name: 'missing senderNonce', drop: ScepOid.senderNonce },
    { name: 'missing messageType', drop: ScepOid.messageType },
  ])('$name → DecodeError', ({ drop }) => {
    const attributes = scepAttributes.filter((a) => a.oid !== drop);
    expect(() => decodePkiMessage(resign([requesterCertDer], attributes), options)).toThrow(
      expect.objectContaining({ code: ErrorCodes.decode }),
    );
  });
});
