import { generateKeyPairSync } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildCertificate, randomSerial } from '../../certs/certificate.js';
import { type ParsedCsr, parseCsr } from '../../certs/csr.js';
import { buildCsr } from '../../certs/csr-builder.js';
import { keyPairSigner } from '../../certs/keys.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { CaBackend, IssuedCertificate, IssueRequest, IssueResult } from '../ca/ca-backend.js';
import { Revocation } from '../revocation/revocation.js';
import { SqliteChallengeStore } from '../store/challenge-store.js';
import { openDatabase } from '../store/database.js';
import { SqliteInventory } from '../store/inventory.js';
import { SqlitePendingStore } from '../store/pending-store.js';
import { Authority } from './authority.js';
import { ChallengeVerifier } from './challenge/challenge-verifier.js';
import type { ProfilePolicy } from './profile-policy.js';

// The Authority with a CA that answers PENDING (an upstream SCEP CA): the request is parked as
// 'approved' (waiting for the CA, not for an operator) and every poll asks the CA again.

const STATIC = 'static-challenge';
const caKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });

function certificateFor(csr: ParsedCsr): IssuedCertificate {
  const notBefore = new Date('2025-06-01T00:00:00Z');
  const notAfter = new Date('2030-06-01T00:00:00Z');
  const serial = randomSerial();
  const der = buildCertificate(
    {
      subject: csr.subject.der,
      spkiDer: csr.spkiDer,
      serial,
      notBefore,
      notAfter,
      isCa: false,
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
    },
    keyPairSigner(caKeys),
    'sha256',
  );
  return { der, serialHex: serial.toString('hex'), notBefore, notAfter };
}

type Answer = 'issue' | 'pending' | 'refuse' | 'down' | 'unsupported';

/** A CA whose answers are scripted, one per call to issue or poll. */
class ScriptedCa implements CaBackend {
  readonly type = 'scripted';
  answers: Answer[] = [];
  calls: Array<['issue' | 'poll', IssueRequest, Date?]> = [];
  revocations: string[] = [];

  async issue(req: IssueRequest): Promise<IssueResult> {
    this.calls.push(['issue', req]);
    return this.answer(req);
  }
  async poll(req: IssueRequest, since: Date): Promise<IssueResult> {
    this.calls.push(['poll', req, since]);
    return this.answer(req);
  }
  async revoke(serialHex: string): Promise<void> {
    const next = this.answers.shift();
    if (next === 'unsupported') throw new OutpostError(ErrorCodes.unsupported, 'no revocation here');
    if (next === 'down') throw new OutpostError(ErrorCodes.unavailable, 'CA down');
    this.revocations.push(serialHex);
  }
  caChain(): Buffer[] {
    return [];
  }
  currentCrl(): Buffer | undefined {
    return undefined;
  }
  private answer(req: IssueRequest): IssueResult {
    const next = this.answers.shift() ?? 'issue';
    if (next === 'pending') return { pending: true };
    if (next === 'refuse') throw new OutpostError(ErrorCodes.badRequest, 'the CA refused');
    if (next === 'down') throw new OutpostError(ErrorCodes.unavailable, 'CA down');
    return certificateFor(req.csr);
  }
}

const profile = (approval: 'auto' | 'manual'): ProfilePolicy => ({
  name: approval,
  validityDays: 30,
  keyUsage: ['digitalSignature'],
  eku: ['clientAuth'],
  keyTypes: ['ec', 'rsa'],
  minRsaBits: 2048,
  approval,
  allowedSanTypes: ['dns'],
});

describe('Authority with a CA that answers PENDING', () => {
  let ca: ScriptedCa;
  let authority: Authority;
  let pending: SqlitePendingStore;
  let inventory: SqliteInventory;
  const now = new Date('2025-06-02T00:00:00Z');
  let n = 0;

  let challenges: ChallengeVerifier;
  const authorityFor = (defaultProfile: 'auto' | 'manual') =>
    new Authority({
      backend: ca,
      inventory,
      pending,
      challenges,
      profiles: new Map([
        ['auto', profile('auto')],
        ['manual', profile('manual')],
      ]),
      defaultProfile,
      clock: () => now,
    });

  beforeEach(() => {
    const db = openDatabase(':memory:');
    inventory = new SqliteInventory(db);
    pending = new SqlitePendingStore(db);
    ca = new ScriptedCa();
    challenges = new ChallengeVerifier({
      staticChallenge: STATIC,
      oneTime: false,
      store: new SqliteChallengeStore(db),
      clock: () => now,
    });
    authority = authorityFor('auto');
  });

  function enrollment() {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = parseCsr(buildCsr(`CN=device-${n++}`, key, { challengePassword: STATIC }));
    return { csr, transactionId: `tx-${n}`, requester: 'scep:test' };
  }

  it('parks the request as approved, answers pending while the CA does, then issued', async () => {
    const req = enrollment();
    ca.answers = ['pending', 'pending', 'issue'];
    expect(await authority.enroll(req)).toEqual({ status: 'pending', transactionId: req.transactionId });
    expect(await pending.get(req.transactionId)).toMatchObject({ status: 'approved', createdAt: now });
    await expect(authority.approve(req.transactionId)).rejects.toMatchObject({ code: ErrorCodes.conflict });

    expect(await authority.poll(req.transactionId)).toEqual({
      status: 'pending',
      transactionId: req.transactionId,
    });
    // scepclient re-sends the PKCSReq: the same question to the CA, not a new request
    const issued = await authority.enroll(req);
    expect(issued.status).toBe('issued');
    expect(ca.calls.map(([kind]) => kind)).toEqual(['issue', 'poll', 'poll']);
    expect(ca.calls[1]![2]).toEqual(now);
    const record = (await inventory.byTransactionId(req.transactionId))!;
    expect(await pending.get(req.transactionId)).toMatchObject({
      status: 'issued',
      serialHex: record.serialHex,
    });
    // answered from the inventory from now on
    expect(await authority.poll(req.transactionId)).toMatchObject({ status: 'issued' });
    expect(ca.calls).toHaveLength(3);
  });

  it('a CA that is down keeps the request pending; a CA that refuses rejects it', async () => {
    const req = enrollment();
    ca.answers = ['pending', 'down', 'refuse'];
    await authority.enroll(req);
    expect(await authority.poll(req.transactionId)).toMatchObject({ status: 'pending' });
    await expect(authority.poll(req.transactionId)).rejects.toMatchObject({ code: ErrorCodes.badRequest });
    expect((await pending.get(req.transactionId))?.status).toBe('rejected');
    await expect(authority.poll(req.transactionId)).rejects.toMatchObject({ code: ErrorCodes.badRequest });
  });

  it('pollAwaitingCa asks about every request the CA holds and reports failures', async () => {
    const [a, b] = [enrollment(), enrollment()];
    ca.answers = ['pending', 'pending'];
    await authority.enroll(a);
    await authority.enroll(b);
    ca.answers = ['issue', 'refuse'];
    const failures: string[] = [];
    await authority.pollAwaitingCa((tx) => failures.push(tx));
    expect(await inventory.byTransactionId(a.transactionId)).toBeDefined();
    expect(failures).toEqual([b.transactionId]);
    expect(await pending.list('approved')).toEqual([]);
  });

  it('a manual approval the CA then holds is approved and reported as not issued yet', async () => {
    const req = enrollment();
    authority = authorityFor('manual');
    await authority.enroll(req);
    expect((await pending.get(req.transactionId))?.status).toBe('pending');
    ca.answers = ['pending'];
    await expect(authority.approve(req.transactionId)).rejects.toMatchObject({
      code: ErrorCodes.unavailable,
    });
    expect((await pending.get(req.transactionId))?.status).toBe('approved');
  });

  it('issueDirect: a CA that holds the request is a retryable unavailable', async () => {
    ca.answers = ['pending'];
    const { csr } = enrollment();
    await expect(authority.issueDirect({ csr, profile: 'auto', requester: 'job:1' })).rejects.toMatchObject({
      code: ErrorCodes.unavailable,
    });
  });

  it('revocation: a CA without it keeps the inventory revoked and says unsupported; a CA that is down undoes it', async () => {
    const first = await authority.enroll(enrollment());
    const second = await authority.enroll(enrollment());
    if (first.status !== 'issued' || second.status !== 'issued') throw new Error('expected issued');
    ca.answers = ['unsupported', 'down'];
    const revocation = new Revocation({ backend: ca, inventory, clock: () => now });
    const unsupported = await revocation
      .revoke(first.record.serialHex, 'keyCompromise')
      .catch((e: unknown) => e);
    expect(unsupported).toMatchObject({ code: ErrorCodes.unsupported });
    expect((unsupported as Error).message).toContain('revoked in the inventory only');
    expect((await inventory.bySerial(first.record.serialHex))?.status).toBe('revoked');
    await expect(revocation.revoke(second.record.serialHex, 'keyCompromise')).rejects.toMatchObject({
      code: ErrorCodes.unavailable,
    });
    expect((await inventory.bySerial(second.record.serialHex))?.status).toBe('valid');
  });
});

describe('Authority events', () => {
  it('reports a refused enrollment (wrong challenge, CA refusal) with its code and transaction id', async () => {
    const db = openDatabase(':memory:');
    const ca = new ScriptedCa();
    const refused: Array<[string, string]> = [];
    const issued: string[] = [];
    const now = new Date('2025-06-02T00:00:00Z');
    const authority = new Authority({
      backend: ca,
      inventory: new SqliteInventory(db),
      pending: new SqlitePendingStore(db),
      challenges: new ChallengeVerifier({
        staticChallenge: STATIC,
        oneTime: false,
        store: new SqliteChallengeStore(db),
        clock: () => now,
      }),
      profiles: new Map([['auto', profile('auto')]]),
      defaultProfile: 'auto',
      clock: () => now,
      events: {
        issued: (record) => issued.push(record.serialHex),
        refused: (error, transactionId) => refused.push([error.code, transactionId]),
      },
    });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const wrong = parseCsr(buildCsr('CN=events-1', key, { challengePassword: 'not-it' }));
    await expect(
      authority.enroll({ csr: wrong, transactionId: 'tx-wrong', requester: 'scep:t' }),
    ).rejects.toThrow();
    ca.answers = ['refuse'];
    const good = parseCsr(buildCsr('CN=events-2', key, { challengePassword: STATIC }));
    await expect(
      authority.enroll({ csr: good, transactionId: 'tx-refused', requester: 'scep:t' }),
    ).rejects.toThrow();
    await authority.enroll({ csr: good, transactionId: 'tx-ok', requester: 'scep:t' });
    expect(refused).toEqual([
      [ErrorCodes.badChallenge, 'tx-wrong'],
      [ErrorCodes.badRequest, 'tx-refused'],
    ]);
    expect(issued).toHaveLength(1);
  });
});
