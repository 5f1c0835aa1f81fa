import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair, type KeyAlgorithm } from '../../certs/keys.js';
import { ErrorCodes } from '../../core/errors.js';
import { BuiltinCa } from '../ca/builtin/builtin-ca.js';
import type { CaBackend, IssueRequest, IssueResult } from '../ca/ca-backend.js';
import { CHALLENGE_HOLD_MS } from '../challenge-use.js';
import { SqliteChallengeStore } from '../store/challenge-store.js';
import { type Db, openDatabase } from '../store/database.js';
import { SqliteInventory } from '../store/inventory.js';
import { SqlitePendingStore } from '../store/pending-store.js';
import type { EnrollOutcome } from './admission.js';
import { Authority } from './authority.js';
import { ChallengeVerifier } from './challenge/challenge-verifier.js';
import type { ProfilePolicy } from './profile-policy.js';

// Issue 11 #3: a one-time challenge is spent in the transaction that records the certificate (or
// the PENDING row), so a refusal or a crash leaves it usable and a race still has one winner.
// Each "process" is its own Authority over its own connection to one SQLite file, as cluster
// workers and a restarted appliance are.

const dir = mkdtempSync(join(tmpdir(), 'outpost-hold-'));
const file = join(dir, 'outpost.db');
let builtin: BuiltinCa;
let clockMs = Date.parse('2026-12-01T12:00:00Z');
const clock = () => new Date(clockMs);

/** The built-in CA behind a gate: each issue waits a little (so requests overlap) or forever (a crash). */
class GatedCa implements CaBackend {
  readonly type = 'gated';
  issued = 0;
  hang = false;
  async issue(req: IssueRequest): Promise<IssueResult> {
    if (this.hang) return new Promise(() => {}); // the process dies here
    await sleep(5 + Math.floor(Math.random() * 10));
    this.issued++;
    return builtin.issue(req);
  }
  revoke(serialHex: string) {
    return builtin.revoke(serialHex, 'unspecified');
  }
  caChain() {
    return builtin.caChain();
  }
  currentCrl() {
    return builtin.currentCrl();
  }
}

const profile = (name: string, approval: 'auto' | 'manual'): ProfilePolicy => ({
  name,
  validityDays: 30,
  eku: ['clientAuth'],
  keyTypes: ['ec', 'rsa'],
  minRsaBits: 2048,
  approval,
  allowedSanTypes: [],
});

/** One appliance process: its own connection, stores and authority. */
function appliance(ca: CaBackend) {
  const db: Db = openDatabase(file);
  const store = new SqliteChallengeStore(db);
  const challenges = new ChallengeVerifier({ staticChallenge: null, oneTime: true, store, clock });
  const authority = new Authority({
    backend: ca,
    inventory: new SqliteInventory(db),
    pending: new SqlitePendingStore(db),
    challenges,
    profiles: new Map([
      ['device', profile('device', 'auto')],
      ['manual', profile('manual', 'manual')],
    ]),
    defaultProfile: 'device',
    clock,
  });
  return { db, challenges, authority, inventory: new SqliteInventory(db) };
}

async function request(cn: string, challenge: string, algorithm: KeyAlgorithm = 'ec-p256') {
  const key = await generateKeyPair(algorithm);
  return {
    csr: parseCsr(buildCsr(`CN=${cn}`, key, { challengePassword: challenge })),
    transactionId: `tx-${cn}`,
  };
}

function codeOf(outcome: PromiseSettledResult<EnrollOutcome>): string {
  if (outcome.status === 'fulfilled') return outcome.value.status;
  return (outcome.reason as { code: string }).code;
}

let ca: GatedCa;
let primary: ReturnType<typeof appliance>;

beforeAll(async () => {
  const inventory = new SqliteInventory(openDatabase(':memory:'));
  builtin = await BuiltinCa.open({ dir: join(dir, 'ca'), keyAlgorithm: 'rsa-2048', inventory });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  ca = new GatedCa();
  primary = appliance(ca);
});

describe('one-time challenge held until the certificate is recorded', () => {
  it('a CSR refused by policy (RSA-1024) leaves the challenge for the corrected retry', async () => {
    const challenge = await primary.challenges.mintOneTime(600);
    const weak = await request('weak', challenge, 'rsa-2048');
    const refused = primary.authority.enroll({
      ...weak,
      csr: { ...weak.csr, keyBits: 1024 },
      requester: 'scep',
    });
    await expect(refused).rejects.toMatchObject({ code: ErrorCodes.badRequest });
    const retry = await request('corrected', challenge);
    const outcome = await primary.authority.enroll({ ...retry, requester: 'scep' });
    expect(outcome.status).toBe('issued');
    const third = await request('third', challenge);
    await expect(primary.authority.enroll({ ...third, requester: 'scep' })).rejects.toMatchObject({
      code: ErrorCodes.badChallenge,
    });
  });

  it('many concurrent requests from two processes with one challenge: exactly one certificate, one CA call', async () => {
    const second = appliance(ca);
    const challenge = await primary.challenges.mintOneTime(600);
    const requests = await Promise.all(
      Array.from({ length: 16 }, (_, i) => request(`racer-${i}`, challenge)),
    );
    const outcomes = await Promise.allSettled(
      requests.map((r, i) => (i % 2 ? second : primary).authority.enroll({ ...r, requester: 'scep' })),
    );
    const codes = outcomes.map(codeOf);
    expect(codes.filter((c) => c === 'issued')).toHaveLength(1);
    expect(codes.filter((c) => c === ErrorCodes.badChallenge)).toHaveLength(15);
    expect(ca.issued).toBe(1);
    const winner = requests[codes.indexOf('issued')]!;
    expect((await primary.inventory.byTransactionId(winner.transactionId))?.status).toBe('valid');
    const recorded = await Promise.all(
      requests.map((r) => primary.inventory.byTransactionId(r.transactionId)),
    );
    expect(recorded.filter(Boolean)).toHaveLength(1);
  });

  it('a retried transaction sent twice at once gets the one certificate both times', async () => {
    const challenge = await primary.challenges.mintOneTime(600);
    const req = { ...(await request('twice', challenge)), requester: 'scep' };
    const [a, b] = await Promise.all([primary.authority.enroll(req), appliance(ca).authority.enroll(req)]);
    expect(a.status === 'issued' && b.status === 'issued' && a.record.serialHex === b.record.serialHex).toBe(
      true,
    );
  });

  it('a crash while the CA works: the same transaction takes the challenge back at once, others after the hold', async () => {
    const challenge = await primary.challenges.mintOneTime(600);
    const crashing = { ...(await request('crash', challenge)), requester: 'scep' };
    ca.hang = true;
    void primary.authority.enroll(crashing); // never settles: the process is killed here
    await sleep(20);
    primary.db.close();

    const restarted = appliance(new GatedCa());
    const other = { ...(await request('other', challenge)), requester: 'scep' };
    await expect(restarted.authority.enroll(other)).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
    const retried = await restarted.authority.enroll(crashing);
    expect(retried.status).toBe('issued');

    // Nobody retries: after the hold, the challenge serves another request.
    const lost = await restarted.challenges.mintOneTime(600);
    ca.hang = true;
    const abandoned = appliance(ca);
    void abandoned.authority.enroll({ ...(await request('abandoned', lost)), requester: 'scep' });
    await sleep(20);
    const late = { ...(await request('late', lost)), requester: 'scep' };
    await expect(restarted.authority.enroll(late)).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
    clockMs += CHALLENGE_HOLD_MS + 1000;
    expect((await restarted.authority.enroll(late)).status).toBe('issued');
  });

  it('manual approval: a refusal keeps the challenge, the PENDING row spends it', async () => {
    const challenge = await primary.challenges.mintOneTime(600, 'manual');
    const weak = await request('manual-weak', challenge, 'rsa-2048');
    await expect(
      primary.authority.enroll({ ...weak, csr: { ...weak.csr, keyBits: 1024 }, requester: 'scep' }),
    ).rejects.toMatchObject({ code: ErrorCodes.badRequest });
    const parked = await primary.authority.enroll({
      ...(await request('manual-ok', challenge)),
      requester: 'scep',
    });
    expect(parked.status).toBe('pending');
    const again = await request('manual-again', challenge);
    await expect(primary.authority.enroll({ ...again, requester: 'scep' })).rejects.toMatchObject({
      code: ErrorCodes.badChallenge,
    });
  });
});

// Issue 11 #4: strongSwan and scepclient derive the transaction id from the key, so re-enrolling a
// key with a new challenge and subject reuses the id: a retry is the same id AND the same request.
describe('a known transaction id with another request', () => {
  let keys = 0;
  async function sameKeyRequests() {
    const key = await generateKeyPair('ec-p256');
    const transactionId = `tx-key-${++keys}`;
    return (cn: string, challenge: string) => ({
      csr: parseCsr(buildCsr(`CN=${cn}`, key, { challengePassword: challenge })),
      transactionId,
      requester: 'scep',
    });
  }

  it('issues the new request (new subject) rather than returning the earlier certificate', async () => {
    const make = await sameKeyRequests();
    const first = await primary.authority.enroll(make('first', await primary.challenges.mintOneTime(600)));
    const secondChallenge = await primary.challenges.mintOneTime(600);
    const second = await primary.authority.enroll(make('second', secondChallenge));
    if (first.status !== 'issued' || second.status !== 'issued') throw new Error('not issued');
    expect(second.record.serialHex).not.toBe(first.record.serialHex);
    expect(second.record.subject).toBe('CN=second');
    // Retrying the second request, even re-signed (ECDSA signatures differ), is a retry.
    const retried = await primary.authority.enroll(make('second', secondChallenge));
    expect(retried.status === 'issued' && retried.record.serialHex).toBe(second.record.serialHex);
    expect(ca.issued).toBe(2);
  });

  it('refuses another request while the earlier one waits for approval, and keeps its challenge', async () => {
    const make = await sameKeyRequests();
    const waiting = make('waiting', await primary.challenges.mintOneTime(600, 'manual'));
    expect((await primary.authority.enroll(waiting)).status).toBe('pending');
    const challenge = await primary.challenges.mintOneTime(600, 'manual');
    await expect(primary.authority.enroll(make('impatient', challenge))).rejects.toMatchObject({
      code: ErrorCodes.badRequest,
      message: expect.stringMatching(/still waiting/),
    });
    await primary.authority.reject(waiting.transactionId);
    // Rejected: the id may carry a new request, and the challenge was not used up by the refusal.
    expect((await primary.authority.enroll(make('impatient', challenge))).status).toBe('pending');
  });
});
