import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../core/errors.js';
import { BuiltinCa } from '../../ca/builtin/builtin-ca.js';
import { Authority } from '../../issuance/authority.js';
import { ChallengeVerifier } from '../../issuance/challenge/challenge-verifier.js';
import { SqliteChallengeStore } from '../../store/challenge-store.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { SqlitePendingStore } from '../../store/pending-store.js';
import { decodeCertRep, decodePkiMessage, FailInfo, MessageType, PkiStatus } from '../codec/index.js';
import { fixture, fixtureKey, fixtureSigner } from '../codec/testing/fixtures.js';
import { ScepOperations } from './scep-operations.js';

// Requests captured from strongSwan pki --scep 5.9.8 (codec/fixtures/README.md), encrypted to the
// fixture RA: --rsa-padding pss must be verified and issued, --digest sha224 must get a signed
// CertRep FAILURE badAlg (issue 11 #8), never an error that becomes a bare HTTP 400.
const raCertDer = fixture('scepserver-ca.crt.der');
const ra = {
  certDer: raCertDer,
  privateKey: fixtureKey('scepserver-ca.key'),
  signer: fixtureSigner('scepserver-ca.key'),
  caChainDer: [],
  currentCrl: () => undefined,
};
const maxMessageBytes = 65536;
let operations: ScepOperations;

beforeAll(async () => {
  const db = openDatabase(':memory:');
  const inventory = new SqliteInventory(db);
  const ca = await BuiltinCa.open({
    dir: mkdtempSync(join(tmpdir(), 'scep-alg-')),
    keyAlgorithm: 'ec-p384',
    inventory,
  });
  const clock = () => new Date();
  const authority = new Authority({
    backend: ca,
    inventory,
    pending: new SqlitePendingStore(db),
    challenges: new ChallengeVerifier({
      staticChallenge: 'fixture-challenge',
      oneTime: false,
      store: new SqliteChallengeStore(db),
      clock,
    }),
    profiles: new Map([
      [
        'device',
        {
          name: 'device',
          validityDays: 30,
          keyUsage: ['digitalSignature'],
          eku: ['clientAuth'],
          keyTypes: ['rsa'],
          minRsaBits: 2048,
          approval: 'auto',
          allowedSanTypes: [],
        },
      ],
    ]),
    defaultProfile: 'device',
    clock,
  });
  operations = new ScepOperations({ ra, authority, maxMessageBytes, logger: pino({ level: 'silent' }) });
});

function replyTo(request: Buffer, reply: Buffer) {
  const requesterCertDer = decodePkiMessage(request, {
    raCertDer,
    raPrivateKey: ra.privateKey,
    maxBytes: maxMessageBytes,
  }).signerCertDer;
  return decodeCertRep(reply, {
    requesterPrivateKey: fixtureKey('strongswan.key'),
    requesterCertDer,
    raCertsDer: [raCertDer],
  });
}

describe('ScepOperations and the request algorithms strongSwan offers', () => {
  it('issues to a request signed with RSASSA-PSS (--rsa-padding pss)', async () => {
    const request = fixture('strongswan-pss-pkcsreq.der');
    const result = await operations.pkiOperation(request, '127.0.0.1');
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('success');
    const rep = replyTo(request, result.body);
    expect(rep.status).toBe(PkiStatus.SUCCESS);
    expect(new X509Certificate(rep.issuedCertsDer[0]!).subject).toContain('CN=strongswan-fixture-1');
  });

  it('answers --digest sha224 with a signed CertRep FAILURE badAlg addressed to its transaction', async () => {
    const result = await operations.pkiOperation(fixture('strongswan-sha224-pkcsreq.der'), '127.0.0.1');
    expect(result).toMatchObject({ status: 'failure', messageType: MessageType.PKCSReq });
    expect(result.error?.code).toBe(ErrorCodes.unsupportedAlgorithm);
    // FAILURE carries no envelope: any requester key decodes it; the RA signature is verified.
    const rep = decodeCertRep(result.body, {
      requesterPrivateKey: fixtureKey('strongswan.key'),
      requesterCertDer: raCertDer,
      raCertsDer: [raCertDer],
    });
    expect(rep).toMatchObject({
      status: PkiStatus.FAILURE,
      failInfo: FailInfo.badAlg,
      transactionId: 'D272998AD5FA048D00F074DFDF45582E57B1D0A5',
    });
    expect(rep.recipientNonce).toHaveLength(16);
  });

  it('still refuses what cannot be identified with an error (HTTP 400), not a CertRep', async () => {
    await expect(
      operations.pkiOperation(Buffer.from('3003020101', 'hex'), '127.0.0.1'),
    ).rejects.toMatchObject({
      code: ErrorCodes.decode,
    });
  });
});
