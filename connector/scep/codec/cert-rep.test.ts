import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../core/errors.js';
import { FailInfo, PkiStatus } from './constants.js';
import { decodeCertRep } from './decode-cert-rep.js';
import { decodePkiMessage } from './decode-pki-message.js';
import { type CertRepInput, encodeCertRep } from './encode-cert-rep.js';
import { decodeGetMessageParam } from './get-message-param.js';
import { fixture, fixtureKey, fixtureSigner, openssl } from './testing/fixtures.js';

describe('decodeCertRep on CertReps captured from micromdm scepserver 2.1.0', () => {
  const raCertsDer = [fixture('scepserver-ca.crt.der')];
  const ra = { raCertDer: raCertsDer[0]!, raPrivateKey: fixtureKey('scepserver-ca.key'), maxBytes: 65536 };
  it.each([
    { request: 'scepclient-pkcsreq.der', reply: 'scepserver-certrep-pkcsreq.der' },
    { request: 'scepclient-renewalreq.der', reply: 'scepserver-certrep-renewalreq.der' },
  ])('$reply', ({ request, reply }) => {
    const req = decodePkiMessage(fixture(request), ra);
    const rep = decodeCertRep(fixture(reply), {
      requesterPrivateKey: fixtureKey('scepclient.key'),
      requesterCertDer: req.signerCertDer,
      raCertsDer,
    });
    expect(rep).toMatchObject({
      status: PkiStatus.SUCCESS,
      transactionId: req.transactionId,
      recipientNonce: req.senderNonce,
    });
    expect(new X509Certificate(rep.issuedCertsDer[0]!).subject).toContain('CN=fixture-device-1');
  });

  it('the CertRep scepserver sent to certmonger (AES-256 request, DES-CBC reply)', () => {
    const param = fixture('certmonger-pkcsreq.get-param.txt').toString().trim();
    const req = decodePkiMessage(decodeGetMessageParam(param), ra);
    const rep = decodeCertRep(fixture('scepserver-certrep-certmonger.der'), {
      requesterPrivateKey: fixtureKey('certmonger.key'),
      requesterCertDer: req.signerCertDer,
      raCertsDer,
    });
    expect(rep).toMatchObject({ status: PkiStatus.SUCCESS, transactionId: req.transactionId });
    expect(new X509Certificate(rep.issuedCertsDer[0]!).subject).toContain('CN=cm-fixture-1');
  });

  it('refuses a CertRep signed by a certificate outside raCertsDer', () => {
    const req = decodePkiMessage(fixture('scepclient-pkcsreq.der'), ra);
    const options = {
      requesterPrivateKey: fixtureKey('scepclient.key'),
      requesterCertDer: req.signerCertDer,
      raCertsDer: [fixture('ra.crt.der')],
    };
    expect(() => decodeCertRep(fixture('scepserver-certrep-pkcsreq.der'), options)).toThrow(
      expect.objectContaining({ code: ErrorCodes.badSignature }),
    );
  });
});

describe('encodeCertRep', () => {
  const raCertDer = fixture('ra.crt.der');
  const requesterCertDer = fixture('requester.crt.der');
  const issued = fixture('scepserver-ca.crt.der'); // any certificate stands in for the issued one
  const base: CertRepInput = {
    status: PkiStatus.SUCCESS,
    transactionId: 'tx-42',
    recipientNonce: Buffer.alloc(16, 1),
    senderNonce: Buffer.alloc(16, 2),
    issuedCertsDer: [issued, raCertDer],
    requesterCertDer,
    raCertDer,
    raSigner: fixtureSigner('ra.key'),
  };
  const decodeOptions = {
    requesterPrivateKey: fixtureKey('requester.key'),
    requesterCertDer,
    raCertsDer: [raCertDer],
  };

  it.each([
    {
      name: 'SUCCESS, DES request → 3DES reply',
      input: { ...base, cipher: 'des-cbc' },
      cipherName: 'des-ede3-cbc',
    },
    {
      name: 'SUCCESS, AES-128 request → AES-256 reply',
      input: { ...base, cipher: 'aes-128-cbc', hash: 'sha1' },
      cipherName: 'aes-256-cbc',
    },
    { name: 'SUCCESS, forced DES', input: { ...base, replyCipher: 'des-cbc' }, cipherName: 'des-cbc' },
  ] as { name: string; input: CertRepInput; cipherName: string }[])(
    '$name: openssl verifies and decrypts',
    ({ input, cipherName }) => {
      const der = encodeCertRep(input);
      const envelope = openssl(['cms', '-verify', '-noverify', '-inform', 'DER', '-binary'], der);
      const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], envelope).toString();
      expect(printed).toContain(`${cipherName} (`);
      const providers = cipherName === 'des-cbc' ? ['-provider', 'default', '-provider', 'legacy'] : [];
      const degenerate = openssl(
        [
          'cms',
          '-decrypt',
          ...providers,
          '-inform',
          'DER',
          '-inkey',
          'requester.key',
          '-recip',
          'requester.crt.der',
          '-binary',
        ],
        envelope,
      );
      const certs = openssl(['pkcs7', '-inform', 'DER', '-print_certs', '-noout'], degenerate).toString();
      expect(certs.indexOf('Fixture SCEP CA')).toBeLessThan(certs.indexOf('CMS Other RSA'));
      const rep = decodeCertRep(der, decodeOptions);
      expect(rep).toMatchObject({
        status: PkiStatus.SUCCESS,
        transactionId: 'tx-42',
        recipientNonce: base.recipientNonce,
        senderNonce: base.senderNonce,
      });
      expect(rep.issuedCertsDer).toEqual([issued, raCertDer]);
    },
  );

  it.each([
    { name: 'PENDING', input: { ...base, status: PkiStatus.PENDING }, failInfo: undefined },
    {
      name: 'FAILURE badRequest',
      input: { ...base, status: PkiStatus.FAILURE, failInfo: FailInfo.badRequest },
      failInfo: FailInfo.badRequest,
    },
  ] as { name: string; input: CertRepInput; failInfo?: number }[])(
    '$name: no content, attributes readable',
    ({ input, failInfo }) => {
      const der = encodeCertRep(input);
      expect(openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], der).toString()).toContain(
        'eContent: <ABSENT>',
      );
      const rep = decodeCertRep(der, decodeOptions);
      expect(rep).toMatchObject({ status: input.status, failInfo, issuedCertsDer: [] });
    },
  );

  it('carries a CRL for GetCRL', () => {
    const crl = openssl(['crl', '-inform', 'PEM', '-outform', 'DER'], fixture('test.crl.pem'));
    const rep = decodeCertRep(
      encodeCertRep({ ...base, issuedCertsDer: undefined, crlDer: crl }),
      decodeOptions,
    );
    expect(rep.crlsDer).toEqual([crl]);
  });

  it.each([
    { name: 'FAILURE without failInfo', input: { ...base, status: PkiStatus.FAILURE } },
    { name: 'SUCCESS without requester', input: { ...base, requesterCertDer: undefined } },
    { name: 'SUCCESS without certificates', input: { ...base, issuedCertsDer: [] } },
  ])('refuses $name', ({ input }) => {
    expect(() => encodeCertRep(input)).toThrow(expect.objectContaining({ code: ErrorCodes.internal }));
  });
});
