import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, parseCertificate, randomSerial } from '../../../certs/certificate.js';
import { decodeSignedData } from '../../../certs/cms/index.js';
import { buildCsr } from '../../../certs/csr.js';
import { generateKeyPair, type KeyPair, keyPairSigner, spkiDer } from '../../../certs/keys.js';
import { BuiltinCa } from '../../ca/builtin/builtin-ca.js';
import { Authority } from '../../issuance/authority.js';
import { ChallengeVerifier } from '../../issuance/challenge/challenge-verifier.js';
import type { ProfilePolicy } from '../../issuance/profile-policy.js';
import { SqliteChallengeStore } from '../../store/challenge-store.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { SqlitePendingStore } from '../../store/pending-store.js';
import {
  type DecodedCertRep,
  decodeCertRep,
  encodePkiMessage,
  FailInfo,
  MessageType,
  type PkiMessagePayload,
  PkiStatus,
} from '../codec/index.js';
import { createConnectorHttp } from './connector-http.js';
import { registerCrlRoute } from './crl-route.js';
import { ScepOperations } from './scep-operations.js';
import { registerScepRoutes } from './scep-routes.js';

const profile: ProfilePolicy = {
  name: 'device',
  validityDays: 30,
  keyUsage: ['digitalSignature'],
  eku: ['clientAuth'],
  keyTypes: ['rsa', 'ec'],
  minRsaBits: 2048,
  approval: 'auto',
  allowedSanTypes: ['dns'],
};

let app: FastifyInstance;
let ca: BuiltinCa;
let device: { pair: KeyPair; selfSigned: Buffer };

beforeAll(async () => {
  const db = openDatabase(':memory:');
  const inventory = new SqliteInventory(db);
  ca = await BuiltinCa.open({
    dir: mkdtempSync(join(tmpdir(), 'scep-http-')),
    keyAlgorithm: 'rsa-2048',
    inventory,
  });
  const clock = () => new Date();
  const store = new SqliteChallengeStore(db);
  const authority = new Authority({
    backend: ca,
    inventory,
    pending: new SqlitePendingStore(db),
    challenges: new ChallengeVerifier({ staticChallenge: 'pw', oneTime: true, store, clock }),
    profiles: new Map([['device', profile]]),
    defaultProfile: 'device',
    clock,
  });
  const ra = {
    certDer: ca.raCertificateDer,
    privateKey: ca.raDecryptionKey,
    signer: ca.raSigner,
    caChainDer: ca.caChain(),
    currentCrl: () => ca.currentCrl(),
  };
  const logger = pino({ level: 'silent' });
  const limits = { maxBodyBytes: 65536, ratePerClientPerMinute: 0, maxConcurrent: 8 };
  app = createConnectorHttp({ maxBodyBytes: limits.maxBodyBytes, requestTimeoutMs: 5000 });
  const operations = new ScepOperations({ ra, authority, maxMessageBytes: limits.maxBodyBytes, logger });
  registerScepRoutes(app, { path: '/scep', ra, operations, limits, logger });
  registerCrlRoute(app, () => ca.currentCrl());
  await app.ready();
  const pair = await generateKeyPair('rsa-2048');
  const now = Date.now();
  const selfSigned = buildCertificate(
    {
      subject: 'CN=SCEP SIGNER',
      spkiDer: spkiDer(pair.publicKey),
      serial: randomSerial(),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3600_000),
      isCa: false,
      keyUsage: ['digitalSignature'],
      eku: [],
    },
    keyPairSigner(pair),
    'sha256',
  );
  device = { pair, selfSigned };
});
afterAll(async () => app?.close());

function message(
  messageType: MessageType,
  payload: PkiMessagePayload,
  opts: { signerCert?: Buffer; transactionId?: string } = {},
) {
  return encodePkiMessage({
    messageType,
    transactionId: opts.transactionId ?? randomBytes(8).toString('hex'),
    senderNonce: randomBytes(16),
    payload,
    signerCertDer: opts.signerCert ?? device.selfSigned,
    signer: keyPairSigner(device.pair),
    recipientCertDer: ca.raCertificateDer,
    cipher: 'aes-128-cbc',
    hash: 'sha256',
  });
}

async function post(body: Buffer, signerCert = device.selfSigned): Promise<DecodedCertRep> {
  const res = await app.inject({ method: 'POST', url: '/scep?operation=PKIOperation', payload: body });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/x-pki-message');
  return decodeCertRep(res.rawPayload, {
    requesterPrivateKey: device.pair.privateKey,
    requesterCertDer: signerCert,
    raCertsDer: [ca.raCertificateDer],
  });
}

function csr(cn: string, challenge = 'pw'): PkiMessagePayload {
  return { kind: 'csr', csrDer: buildCsr(`CN=${cn}`, device.pair, { challengePassword: challenge }) };
}

describe('SCEP over HTTP (RFC 8894 §4)', () => {
  it('answers GetCACaps and GetCACert (RA first, then the CA)', async () => {
    const caps = await app.inject({ url: '/scep?operation=GetCACaps' });
    expect(caps.body.split('\n')).toEqual(
      expect.arrayContaining(['POSTPKIOperation', 'AES', 'SHA-256', 'Renewal']),
    );
    const certs = await app.inject({ url: '/scep?operation=GetCACert' });
    expect(certs.headers['content-type']).toBe('application/x-x509-ca-ra-cert');
    expect(decodeSignedData(certs.rawPayload, { maxBytes: 1 << 20 }).certificates).toEqual([
      ca.raCertificateDer,
      ca.caCertificateDer,
    ]);
  });

  it('issues on PKCSReq, answers a retried transaction with the same certificate, and serves GetCert and GetCRL', async () => {
    const transactionId = 'retry-me';
    const first = await post(message(MessageType.PKCSReq, csr('http-device'), { transactionId }));
    expect(first.status).toBe(PkiStatus.SUCCESS);
    const issued = parseCertificate(first.issuedCertsDer[0]!);
    expect(issued.subject.text).toBe('CN=http-device');
    const again = await post(message(MessageType.PKCSReq, csr('http-device'), { transactionId }));
    expect(again.issuedCertsDer[0]).toEqual(first.issuedCertsDer[0]);

    const byPoll = await post(
      message(
        MessageType.CertPoll,
        { kind: 'issuerAndSubject', issuerDer: Buffer.from([0x30, 0]), subjectDer: Buffer.from([0x30, 0]) },
        { transactionId },
      ),
    );
    expect(byPoll.issuedCertsDer[0]).toEqual(first.issuedCertsDer[0]);

    const getCert = await post(
      message(MessageType.GetCert, {
        kind: 'issuerAndSerial',
        issuerDer: Buffer.from([0x30, 0]),
        serialHex: issued.serialHex,
      }),
    );
    expect(getCert.status).toBe(PkiStatus.SUCCESS);
    expect(getCert.issuedCertsDer[0]).toEqual(first.issuedCertsDer[0]);

    const getCrl = await post(
      message(MessageType.GetCRL, {
        kind: 'issuerAndSerial',
        issuerDer: Buffer.from([0x30, 0]),
        serialHex: issued.serialHex,
      }),
    );
    expect(getCrl.status).toBe(PkiStatus.SUCCESS);
    expect(getCrl.crlsDer[0]).toEqual(ca.currentCrl());
  });

  it('accepts GET with standard base64 (percent-encoded or not) and URL-safe base64', async () => {
    for (const encode of [
      (b: Buffer) => encodeURIComponent(b.toString('base64')),
      (b: Buffer) => b.toString('base64'),
      (b: Buffer) => b.toString('base64url'),
    ]) {
      const body = message(MessageType.PKCSReq, csr(`get-device-${Math.random()}`));
      const res = await app.inject({ url: `/scep?operation=PKIOperation&message=${encode(body)}` });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it.each<[string, () => Buffer, FailInfo]>([
    ['a wrong challenge', () => message(MessageType.PKCSReq, csr('x', 'nope')), FailInfo.badRequest],
    [
      'a CSR the profile refuses (SAN type)',
      () =>
        message(MessageType.PKCSReq, {
          kind: 'csr',
          csrDer: buildCsr('CN=x', device.pair, { challengePassword: 'pw', sans: { email: ['a@b.c'] } }),
        }),
      FailInfo.badRequest,
    ],
    [
      'a poll for an unknown transaction',
      () =>
        message(MessageType.CertPoll, {
          kind: 'issuerAndSubject',
          issuerDer: Buffer.from([0x30, 0]),
          subjectDer: Buffer.from([0x30, 0]),
        }),
      FailInfo.badCertId,
    ],
    [
      'GetCert for an unknown serial',
      () =>
        message(MessageType.GetCert, {
          kind: 'issuerAndSerial',
          issuerDer: Buffer.from([0x30, 0]),
          serialHex: '0badc0de',
        }),
      FailInfo.badCertId,
    ],
    [
      'a renewal signed by a certificate we did not issue',
      () => message(MessageType.RenewalReq, csr('x', '')),
      FailInfo.badRequest,
    ],
  ])('answers %s with a FAILURE CertRep', async (_name, make, failInfo) => {
    const rep = await post(make());
    expect(rep.status).toBe(PkiStatus.FAILURE);
    expect(rep.failInfo).toBe(failInfo);
  });

  it('answers malformed requests with 4xx, never 5xx, and stays healthy', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
        const res = await app.inject({
          method: 'POST',
          url: '/scep?operation=PKIOperation',
          payload: Buffer.from(bytes),
        });
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 200 },
    );
    const valid = message(MessageType.PKCSReq, csr('mutant'));
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const mutated = Buffer.from(valid);
        mutated[at]! ^= xor;
        const res = await app.inject({
          method: 'POST',
          url: '/scep?operation=PKIOperation',
          payload: mutated,
        });
        expect(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500)).toBe(true);
      }),
      { numRuns: 150 },
    );
    const unknown = await app.inject({ url: '/scep?operation=Bogus' });
    expect(unknown.statusCode).toBe(400);
    const tooBig = await app.inject({
      method: 'POST',
      url: '/scep?operation=PKIOperation',
      payload: Buffer.alloc(70_000),
    });
    expect(tooBig.statusCode).toBe(413);
    expect((await app.inject({ url: '/scep?operation=GetCACaps' })).statusCode).toBe(200);
  });
});
