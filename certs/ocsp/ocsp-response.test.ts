import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import { buildCertificate, type ParsedCertificate, parseCertificate } from '../certificate.js';
import { derNull } from '../der-writer.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from '../keys.js';
import { Oid } from '../oids.js';
import { toPem } from '../pem.js';
import { opensslAll, opensslOutput } from '../testing/openssl.js';
import { encodeCertId, responderKeyHash } from './cert-id.js';
import { parseOcspRequest } from './ocsp-request.js';
import { buildOcspRequest } from './ocsp-request-builder.js';
import { buildOcspResponse, OCSP_RESPONSE_STATUS, ocspErrorResponse } from './ocsp-response.js';
import { basicResponseSignedBy, parseOcspResponse } from './ocsp-response-reader.js';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
/** openssl checks thisUpdate/nextUpdate against its own clock, so the fixed clock is "now". */
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);

interface Pki {
  caKey: KeyPair;
  ca: ParsedCertificate;
  signerKey: KeyPair;
  signer: ParsedCertificate;
  leaf: ParsedCertificate;
}

function issue(
  subject: string,
  key: KeyPair,
  issuer: { cert?: ParsedCertificate; key: KeyPair },
  extra: Partial<Parameters<typeof buildCertificate>[0]> = {},
): ParsedCertificate {
  return parseCertificate(
    buildCertificate(
      {
        subject,
        spkiDer: spkiDer(key.publicKey),
        ...(issuer.cert ? { issuer: issuer.cert } : {}),
        serial: randomBytes(8).fill(0x11, 0, 1),
        notBefore: new Date(NOW.getTime() - HOUR),
        notAfter: new Date(NOW.getTime() + 30 * DAY),
        isCa: !issuer.cert,
        keyUsage: issuer.cert ? ['digitalSignature'] : ['keyCertSign', 'cRLSign'],
        eku: [],
        ...extra,
      },
      keyPairSigner(issuer.key),
      'sha256',
    ),
  );
}

async function makePki(): Promise<Pki> {
  const [caKey, signerKey, leafKey] = await Promise.all([
    generateKeyPair('rsa-2048'),
    generateKeyPair('ec-p256'),
    generateKeyPair('ec-p256'),
  ]);
  const ca = issue('CN=OCSP Test CA', caKey, { key: caKey });
  const signer = issue(
    'CN=OCSP Test CA OCSP Signer',
    signerKey,
    { cert: ca, key: caKey },
    {
      eku: ['ocspSigning'],
      extraExtensions: [{ oid: Oid.ocspNoCheck, critical: false, value: derNull }],
    },
  );
  const leaf = issue('CN=leaf', leafKey, { cert: ca, key: caKey });
  return { caKey, ca, signerKey, signer, leaf };
}

const issuerOf = (ca: ParsedCertificate) => ({ subjectDer: ca.subject.der, spkiDer: ca.spkiDer });

const files = (pki: Pki, extra: Record<string, Uint8Array>) => ({
  'ca.pem': toPem('CERTIFICATE', pki.ca.der),
  'leaf.pem': toPem('CERTIFICATE', pki.leaf.der),
  ...extra,
});

describe('buildOcspResponse, judged by openssl ocsp', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki();
  });

  function respond(
    requestDer: Buffer,
    statuses: Parameters<typeof buildOcspResponse>[0]['responses'][number]['status'][],
  ) {
    const request = parseOcspRequest(requestDer);
    return buildOcspResponse(
      {
        responderKeyHash: responderKeyHash(pki.signer.spkiDer),
        producedAt: NOW,
        responses: request.certIds.map((id, i) => ({
          certIdDer: id.der,
          status: statuses[i]!,
          thisUpdate: NOW,
          nextUpdate: new Date(NOW.getTime() + HOUR),
        })),
        ...(request.nonce ? { nonce: request.nonce } : {}),
        certs: [pki.signer.der],
      },
      keyPairSigner(pki.signerKey),
      'sha256',
    );
  }

  it.each([
    ['sha1', ['good'], /leaf.pem: good/],
    ['sha256', ['good'], /leaf.pem: good/],
    ['sha1', ['revoked'], /leaf.pem: revoked[\s\S]*Reason: keyCompromise/],
    ['sha256', ['unknown'], /leaf.pem: unknown/],
  ] as const)('%s CertID, status %s, delegated signer verified, nonce echoed', (hash, [kind], expected) => {
    const requestDer = opensslOutput(
      ['ocsp', `-${hash}`, '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-reqout', 'req.der'],
      files(pki, {}),
      'req.der',
    );
    const status =
      kind === 'revoked'
        ? { kind, revokedAt: new Date(NOW.getTime() - DAY), reason: 'keyCompromise' as const }
        : { kind };
    const der = respond(requestDer, [status]);
    // -reqin makes openssl check the nonce; -respin the response, -CAfile its signer's chain.
    const { status: exit, output } = opensslAll(
      ['ocsp', '-reqin', 'req.der', '-respin', 'resp.der', '-CAfile', 'ca.pem', '-resp_text'],
      files(pki, { 'req.der': requestDer, 'resp.der': der }),
    );
    expect(exit, output).toBe(0);
    expect(output).toContain('Response verify OK');
    expect(output).not.toMatch(/WARNING|Nonce Verify error/);
    expect(output).toContain('OCSP Nonce');
    // Status per certificate: openssl matches our echoed CertID to its own.
    const byCert = opensslAll(
      [
        'ocsp',
        `-${hash}`,
        '-respin',
        'resp.der',
        '-issuer',
        'ca.pem',
        '-cert',
        'leaf.pem',
        '-CAfile',
        'ca.pem',
        '-no_nonce',
      ],
      files(pki, { 'resp.der': der }),
    );
    expect(byCert.output).toMatch(expected);
    expect(byCert.output).toContain('Response verify OK');
  });

  it('without the nonce echoed, openssl warns (so the check above is real)', () => {
    const requestDer = opensslOutput(
      ['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-reqout', 'req.der'],
      files(pki, {}),
      'req.der',
    );
    const withoutNonce = buildOcspRequest(parseOcspRequest(requestDer).certIds.map((id) => id.der));
    const der = respond(withoutNonce, [{ kind: 'good' }]);
    const { output } = opensslAll(
      ['ocsp', '-reqin', 'req.der', '-respin', 'resp.der', '-CAfile', 'ca.pem'],
      files(pki, { 'req.der': requestDer, 'resp.der': der }),
    );
    expect(output).toContain('WARNING: no nonce in response');
  });

  it('answers several CertIDs in order and reads back what it wrote', () => {
    const ids = ['0a', '0b', '0c'].map((serial) => encodeCertId(issuerOf(pki.ca), serial, 'sha256'));
    const nonce = randomBytes(16);
    const request = buildOcspRequest(ids, nonce);
    const der = respond(request, [
      { kind: 'good' },
      { kind: 'revoked', revokedAt: NOW },
      { kind: 'unknown' },
    ]);
    const parsed = parseOcspResponse(der);
    expect(parsed.status).toBe('successful');
    const basic = parsed.basic!;
    expect(basicResponseSignedBy(basic, pki.signer.publicKey)).toBe(true);
    expect(basicResponseSignedBy(basic, pki.ca.publicKey)).toBe(false);
    expect(basic.responderKeyHash).toEqual(pki.signer.ski);
    expect(basic.producedAt).toEqual(NOW);
    expect(basic.certs).toEqual([pki.signer.der]);
    expect(basic.nonce!.subarray(2)).toEqual(nonce);
    expect(basic.responses.map((r) => [r.certId.serialHex, r.status])).toEqual([
      ['0a', { kind: 'good' }],
      ['0b', { kind: 'revoked', revokedAt: NOW }],
      ['0c', { kind: 'unknown' }],
    ]);
    expect(basic.responses[0]!.nextUpdate).toEqual(new Date(NOW.getTime() + HOUR));
    const text = opensslAll(
      ['ocsp', '-respin', 'resp.der', '-CAfile', 'ca.pem', '-resp_text', '-no_nonce'],
      files(pki, { 'resp.der': der }),
    );
    expect(text.output).toContain('Response verify OK');
    expect(text.output).toContain('Responder Id: ');
  });
});

describe('ocspErrorResponse', () => {
  it.each(Object.entries(OCSP_RESPONSE_STATUS).filter(([name]) => name !== 'successful'))(
    '%s is a bare status openssl prints',
    (name, code) => {
      const der = ocspErrorResponse(name as 'malformedRequest');
      expect(der.toString('hex')).toBe(`30030a01${code.toString(16).padStart(2, '0')}`);
      expect(parseOcspResponse(der)).toEqual({ status: name });
      const { output } = opensslAll(['ocsp', '-respin', 'resp.der', '-resp_text', '-noverify'], {
        'resp.der': der,
      });
      expect(output).toContain(`Responder Error: ${name.toLowerCase()} (${code})`);
    },
  );
});

describe('parseOcspResponse properties', () => {
  let seed: Buffer;
  beforeAll(async () => {
    const pki = await makePki();
    seed = buildOcspResponse(
      {
        responderKeyHash: responderKeyHash(pki.signer.spkiDer),
        producedAt: NOW,
        responses: [
          {
            certIdDer: encodeCertId(issuerOf(pki.ca), '01', 'sha1'),
            status: { kind: 'revoked', revokedAt: NOW, reason: 'superseded' },
            thisUpdate: NOW,
          },
        ],
        nonce: Buffer.from('0401aa', 'hex'),
        certs: [pki.signer.der],
      },
      keyPairSigner(pki.signerKey),
      'sha256',
    );
  });

  const onlyDecodeErrors = (bytes: Uint8Array): boolean => {
    try {
      parseOcspResponse(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
    return true;
  };

  it('never throws anything but DecodeError on arbitrary or mutated input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), onlyDecodeErrors), { numRuns: 300 });
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
      .map(([flips, cut]) => {
        const copy = Buffer.from(seed);
        for (const [at, value] of flips) copy[at % copy.length] = value;
        return cut % 3 === 0 ? copy.subarray(0, cut % copy.length) : copy;
      });
    fc.assert(fc.property(mutated, onlyDecodeErrors), { numRuns: 1000 });
  });
});
