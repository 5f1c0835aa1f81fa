import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair } from '../../certs/keys.js';
import {
  basicResponseSignedBy,
  buildOcspRequest,
  encodeCertId,
  type IssuerIdentity,
  parseOcspResponse,
} from '../../certs/ocsp/index.js';
import { toPem } from '../../certs/pem.js';
import { opensslAll } from '../../certs/testing/openssl.js';
import { DecodeError, ErrorCodes, OutpostError } from '../../core/errors.js';
import { BuiltinCa } from '../ca/builtin/builtin-ca.js';
import { OcspSignerKeeper } from '../ca/builtin/ocsp-signer.js';
import type { IssuedCertificate } from '../ca/ca-backend.js';
import { openDatabase } from '../store/database.js';
import { SqliteInventory } from '../store/inventory.js';
import { OcspResponder } from './ocsp-responder.js';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const HOUR = 3600 * 1000;

describe('OcspResponder over the built-in CA and the SQLite inventory', () => {
  let root: string;
  let inventory: SqliteInventory;
  let ca: BuiltinCa;
  let keeper: OcspSignerKeeper;
  let responder: OcspResponder;
  let issuer: IssuerIdentity;
  let leaf: IssuedCertificate;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'outpost-ocsp-'));
    const dir = join(root, 'ca');
    inventory = new SqliteInventory(openDatabase(':memory:'));
    ca = await BuiltinCa.open({ dir, keyAlgorithm: 'rsa-2048', inventory, clock: () => NOW });
    keeper = await OcspSignerKeeper.open({
      store: ca.keyStore,
      ca: { cert: ca.caCertificate, signer: ca.caSigner },
      hash: 'sha256',
      clock: () => NOW,
    });
    responder = new OcspResponder({
      issuer: issuerOf(ca),
      inventory,
      signing: keeper,
      validityMs: HOUR,
      clock: () => NOW,
    });
    issuer = issuerOf(ca);
    leaf = await issueAndRecord('CN=ocsp-leaf');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function issuerOf(c: BuiltinCa): IssuerIdentity {
    return { subjectDer: c.caCertificate.subject.der, spkiDer: c.caCertificate.spkiDer };
  }

  async function issueAndRecord(subject: string): Promise<IssuedCertificate> {
    const key = await generateKeyPair('ec-p256');
    const issued = await ca.issue({
      csr: parseCsr(buildCsr(subject, key)),
      profile: { name: 'device', validityDays: 30, keyUsage: ['digitalSignature'], eku: ['clientAuth'] },
      requester: 'test',
    });
    await inventory.record({
      serialHex: issued.serialHex,
      subject,
      sans: [],
      profile: 'device',
      requester: 'test',
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      status: 'valid',
      thumbprint: certificateThumbprint(issued.der),
      der: issued.der,
    });
    return issued;
  }

  async function ask(serials: string[], hash: 'sha1' | 'sha256' = 'sha1', nonce?: Buffer, who = issuer) {
    const answer = await responder.respond(
      buildOcspRequest(
        serials.map((s) => encodeCertId(who, s, hash)),
        nonce,
      ),
    );
    expect(answer.status).toBe('successful');
    const basic = parseOcspResponse(answer.der).basic!;
    expect(basicResponseSignedBy(basic, keeper.certificate.publicKey)).toBe(true);
    return { answer, basic };
  }

  it.each(['sha1', 'sha256'] as const)(
    'answers good for an issued certificate (%s CertID), signed by the delegated signer',
    async (hash) => {
      const { answer, basic } = await ask([leaf.serialHex], hash);
      expect(answer.certStatuses).toEqual(['good']);
      expect(basic.certs).toEqual([keeper.certificate.der]);
      expect(basic.responderKeyHash).toEqual(keeper.certificate.ski);
      expect(basic.producedAt).toEqual(NOW);
      expect(basic.responses[0]!.thisUpdate).toEqual(NOW);
      expect(basic.responses[0]!.nextUpdate).toEqual(new Date(NOW.getTime() + HOUR));
      expect(basic.nonce).toBeUndefined();
    },
  );

  it('echoes the nonce', async () => {
    const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const { basic } = await ask([leaf.serialHex], 'sha256', nonce);
    expect(basic.nonce).toEqual(Buffer.concat([Buffer.from([0x04, 16]), nonce]));
  });

  it('answers unknown for a serial never issued, another issuer, or a hash it does not compute', async () => {
    expect((await ask(['7f0102'])).answer.certStatuses).toEqual(['unknown']);
    const stranger = { subjectDer: ca.raCertificate.subject.der, spkiDer: ca.raCertificate.spkiDer };
    expect((await ask([leaf.serialHex], 'sha1', undefined, stranger)).answer.certStatuses).toEqual([
      'unknown',
    ]);
    const md5Id = Buffer.from(
      encodeCertId(issuer, leaf.serialHex, 'sha1')
        .toString('hex')
        .replace('06052b0e03021a', '06052b0e030200'),
      'hex',
    );
    const answer = await responder.respond(buildOcspRequest([md5Id]));
    expect(answer.certStatuses).toEqual(['unknown']);
  });

  it('shows a revocation in the very next answer, with time and reason; openssl agrees', async () => {
    const other = await issueAndRecord('CN=ocsp-revoked');
    expect((await ask([other.serialHex])).answer.certStatuses).toEqual(['good']);
    const revokedAt = new Date(NOW.getTime() - 60_000);
    inventory.markRevoked(other.serialHex, 'keyCompromise', revokedAt);
    const { answer, basic } = await ask([other.serialHex, leaf.serialHex]);
    expect(answer.certStatuses).toEqual(['revoked', 'good']);
    expect(basic.responses[0]!.status).toEqual({ kind: 'revoked', revokedAt, reason: 'keyCompromise' });

    const { output } = opensslAll(
      [
        'ocsp',
        '-respin',
        'resp.der',
        '-issuer',
        'ca.pem',
        '-cert',
        'leaf.pem',
        '-CAfile',
        'ca.pem',
        '-no_nonce',
        '-attime',
        String(NOW.getTime() / 1000 + 60),
        '-validity_period',
        '1000000000',
      ],
      {
        'resp.der': answer.der,
        'ca.pem': toPem('CERTIFICATE', ca.caCertificateDer),
        'leaf.pem': toPem('CERTIFICATE', other.der),
      },
    );
    expect(output).toContain('Response verify OK');
    expect(output).toMatch(/leaf\.pem: revoked[\s\S]*Reason: keyCompromise/);
  });

  it('leaves the reason out for unspecified, as the CRL does', async () => {
    const other = await issueAndRecord('CN=ocsp-unspecified');
    inventory.markRevoked(other.serialHex, 'unspecified', NOW);
    const { basic } = await ask([other.serialHex]);
    expect(basic.responses[0]!.status).toEqual({ kind: 'revoked', revokedAt: NOW });
  });

  it.each([
    ['garbage', () => Buffer.from('not DER at all')],
    ['empty', () => Buffer.alloc(0)],
    [
      'a 33-octet nonce',
      () => buildOcspRequest([encodeCertId(issuer, leaf.serialHex, 'sha1')], Buffer.alloc(33)),
    ],
  ])('answers malformedRequest to %s, with the DecodeError for the log', async (_name, der) => {
    const answer = await responder.respond(der());
    expect(answer.status).toBe('malformedRequest');
    expect(answer.der.toString('hex')).toBe('30030a0101');
    expect(answer.error).toBeInstanceOf(DecodeError);
  });

  it('answers tryLater when no signer is available and internalError when the inventory fails', async () => {
    const unavailable = new OcspResponder({
      issuer,
      inventory,
      validityMs: HOUR,
      signing: { current: async () => Promise.reject(new OutpostError(ErrorCodes.unavailable, 'no signer')) },
    });
    const request = buildOcspRequest([encodeCertId(issuer, leaf.serialHex, 'sha1')]);
    expect((await unavailable.respond(request)).status).toBe('tryLater');
    const broken = new OcspResponder({
      issuer,
      validityMs: HOUR,
      signing: keeper,
      inventory: {
        bySerial: () => {
          throw new Error('database is closed');
        },
      },
    });
    const answer = await broken.respond(request);
    expect(answer.status).toBe('internalError');
    expect(answer.der.toString('hex')).toBe('30030a0102');
    expect(answer.error?.code).toBe(ErrorCodes.internal);
  });
});
