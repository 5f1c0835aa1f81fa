import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPkcs12 } from '../../certs/pkcs12/read-pkcs12.js';
import { opensslPfx } from '../../certs/testing/pki-presets.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { failureOutcome } from '../../link/job-outcome.js';
import {
  certRevokeResult,
  connectorJobs,
  pfxImportResult,
  pkcsIssueResult,
} from '../../link/jobs/connector-jobs.js';
import { JobJournal } from '../../link/journal/job-journal.js';
import { openJournalDb } from '../../link/journal/journal-db.js';
import { ImportKey } from '../pkcs/import-key.js';
import { encryptImportPassword } from '../pkcs/import-password.js';
import { TestConnector } from '../pkcs/testing/test-connector.js';
import { connectorJobHandlers } from './connector-job-handlers.js';
import { JobFailure, toJobError } from './job-error.js';
import type { ConnectorJobHandler } from './job-handler.js';

let t: TestConnector;
let dataDir: string;
let journal: JobJournal;
let handlers: Map<string, ConnectorJobHandler>;

beforeAll(async () => {
  t = await TestConnector.open();
  dataDir = mkdtempSync(join(tmpdir(), 'outpost-jobs-'));
  journal = new JobJournal(openJournalDb(':memory:'));
  handlers = new Map(
    connectorJobHandlers({
      dataDir,
      authority: t.authority,
      revocation: t.revocation,
      inventory: t.inventory,
      checkpoints: journal,
      caChain: () => t.ca.caChain(),
    }).map((h) => [h.kind, h]),
  );
});
afterAll(() => {
  t.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

let counter = 0;
/** Journals the job first, as the link does before running it. */
function run(kind: string, payload: unknown, id = `job-${++counter}`) {
  journal.receive({ id, kind, payload });
  return handlers.get(kind)!.handle({ id, kind, payload });
}

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(JobFailure);
    return toJobError(e);
  }
  throw new Error('expected the job to fail');
}

const issuePayload = () => ({
  profile: 'user',
  subject: 'CN=Bob,O=Corp',
  sans: [{ type: 'email', value: 'bob@corp.test' }],
  keyAlgorithm: 'ec-p256',
  protection: 'modern',
  devicePublicKey: t.devicePublicKeyPem,
  userId: 'bob',
  deviceId: 'ipad-7',
});

describe('connector job handlers', () => {
  it('registers one handler per connector job kind of the link schema', () => {
    expect([...handlers.keys()].sort()).toEqual(Object.keys(connectorJobs).sort());
  });

  it('cert.pkcs.issue: a result valid against the link schema, the same certificate when re-run', async () => {
    const result = pkcsIssueResult.parse(await run('cert.pkcs.issue', issuePayload(), 'issue-1'));
    const password = t.devicePassword(Buffer.from(result.encryptedPassword, 'base64'));
    const { certificates } = readPkcs12(Buffer.from(result.pfx, 'base64'), password);
    const leaf = new X509Certificate(certificates[0]!);
    expect(leaf.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(result.serialHex.replace(/^0+/, ''));
    expect(leaf.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(result.thumbprint);
    expect(new Date(result.notAfter).getTime()).toBe(new Date(leaf.validTo).getTime());
    expect((await t.inventory.byRequester('job:issue-1'))?.serialHex).toBe(result.serialHex);
    expect(journal.get('issue-1')?.subarray(0, 4).toString()).toBe('OPK1');

    const again = pkcsIssueResult.parse(
      await handlers
        .get('cert.pkcs.issue')!
        .handle({ id: 'issue-1', kind: 'cert.pkcs.issue', payload: issuePayload() }),
    );
    expect(again.serialHex).toBe(result.serialHex);
    expect(again.pfx).not.toBe(result.pfx); // re-wrapped under a new password
  });

  it.each([
    ['missing fields', () => ({})],
    ['unknown key algorithm', () => ({ ...issuePayload(), keyAlgorithm: 'rsa-1024' })],
    ['unknown field', () => ({ ...issuePayload(), extra: 1 })],
    ['bad SAN type', () => ({ ...issuePayload(), sans: [{ type: 'x400', value: 'a' }] })],
    ['no PEM', () => ({ ...issuePayload(), devicePublicKey: 'hello' })],
    ['not an object', () => 'cert please'],
  ])('cert.pkcs.issue refuses a payload with %s: final badRequest', async (_name, payload) => {
    const error = await failure(run('cert.pkcs.issue', payload()));
    expect(error).toMatchObject({ code: ErrorCodes.badRequest, retryable: false });
    expect(error.message).toMatch(/^invalid cert\.pkcs\.issue payload: /);
  });

  it('cert.pfx.import: re-wraps with the connector import key; a wrong password is final', async () => {
    const importKey = await ImportKey.open(dataDir);
    const source = opensslPfx({ password: 'admin pw', eku: 'emailProtection' });
    const { ciphertext, keyId } = encryptImportPassword(importKey.publicKeyPem, 'admin pw');
    const payload = {
      pfx: source.pfx.toString('base64'),
      encryptedPassword: ciphertext.toString('base64'),
      importKeyId: keyId,
      protection: 'legacy',
      devicePublicKey: t.devicePublicKeyPem,
    };
    const result = pfxImportResult.parse(await run('cert.pfx.import', payload));
    expect(result.subject).toContain('CN=Alice');
    const password = t.devicePassword(Buffer.from(result.encryptedPassword, 'base64'));
    expect(readPkcs12(Buffer.from(result.pfx, 'base64'), password).keys).toHaveLength(1);

    const wrong = encryptImportPassword(importKey.publicKeyPem, 'not it');
    const error = await failure(
      run('cert.pfx.import', { ...payload, encryptedPassword: wrong.ciphertext.toString('base64') }),
    );
    expect(error).toMatchObject({ code: ErrorCodes.badSignature, retryable: false });
    expect(
      await failure(run('cert.pfx.import', { ...payload, pfx: Buffer.from('garbage').toString('base64') })),
    ).toMatchObject({ code: ErrorCodes.decode, retryable: false });
  });

  it('cert.revoke: revokes, then conflict (final); unknown serial notFound', async () => {
    const issued = pkcsIssueResult.parse(await run('cert.pkcs.issue', issuePayload()));
    const result = certRevokeResult.parse(
      await run('cert.revoke', {
        issuer: 'CN=Outpost Root CA,O=Outpost',
        serialHex: issued.serialHex,
        reason: 'superseded',
      }),
    );
    expect(result.serialHex).toBe(issued.serialHex);
    expect((await t.inventory.bySerial(issued.serialHex))?.revocationReason).toBe('superseded');
    expect(await failure(run('cert.revoke', { serialHex: issued.serialHex }))).toMatchObject({
      code: ErrorCodes.conflict,
      retryable: false,
    });
    expect(await failure(run('cert.revoke', { serialHex: 'abcdef' }))).toMatchObject({
      code: ErrorCodes.notFound,
      retryable: false,
    });
  });
});

describe('cert.revoke across a crash', () => {
  it('a re-run of the job that revoked (crash before its result was journaled) reports done, not conflict', async () => {
    const issued = pkcsIssueResult.parse(await run('cert.pkcs.issue', issuePayload()));
    const jobId = `revoke-crash-${counter}`;
    const first = certRevokeResult.parse(await run('cert.revoke', { serialHex: issued.serialHex }, jobId));
    // The journal resumes the same job id after a restart: same answer, still one revocation.
    const again = certRevokeResult.parse(
      await handlers
        .get('cert.revoke')!
        .handle({ id: jobId, kind: 'cert.revoke', payload: { serialHex: issued.serialHex } }),
    );
    expect(again).toEqual(first);
    // Another job revoking the same certificate is still a final conflict.
    expect(await failure(run('cert.revoke', { serialHex: issued.serialHex }))).toMatchObject({
      code: ErrorCodes.conflict,
      retryable: false,
    });
  });
});

describe('job error mapping', () => {
  it.each([
    [
      new OutpostError(ErrorCodes.unavailable, 'CA unreachable'),
      ErrorCodes.unavailable,
      true,
      'CA unreachable',
    ],
    [new OutpostError(ErrorCodes.busy, 'busy'), ErrorCodes.busy, true, 'busy'],
    [new OutpostError(ErrorCodes.conflict, 'already revoked'), ErrorCodes.conflict, false, 'already revoked'],
    [new Error('secret internal detail'), ErrorCodes.internal, false, 'internal error'],
  ])(
    '%s → {code, retryable, message}, the same through the link runner',
    (thrown, code, retryable, message) => {
      const error = toJobError(thrown);
      expect(error).toEqual({ code, retryable, message });
      // the link maps a handler's throw with link/job-outcome.ts: it must agree
      expect(failureOutcome(new JobFailure(error.code as typeof code, error.message, { retryable }))).toEqual(
        {
          ok: false,
          error,
        },
      );
    },
  );
});
