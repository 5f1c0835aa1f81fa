import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../../certs/keys.js';
import { pemBlocks } from '../../certs/pem.js';
import { readPkcs12 } from '../../certs/pkcs12/read-pkcs12.js';
import { opensslAll } from '../../certs/testing/openssl.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Authority } from '../issuance/authority.js';
import { issuePkcs, type PkcsIssueDeps, type PkcsIssueRequest } from './issue-pkcs.js';
import { KeySealer } from './key-sealer.js';
import { MemoryCheckpoints, TestConnector } from './testing/test-connector.js';

let t: TestConnector;
beforeAll(async () => {
  t = await TestConnector.open();
});
afterAll(() => t.cleanup());

let jobCounter = 0;
const newJobId = () => `job-${++jobCounter}-${Date.now()}`;

function deps(over: Partial<PkcsIssueDeps> = {}): PkcsIssueDeps {
  return {
    authority: t.authority,
    inventory: t.inventory,
    checkpoints: t.checkpoints,
    sealer: t.sealer,
    caChain: () => t.ca.caChain(),
    ...over,
  };
}

function request(over: Partial<PkcsIssueRequest> = {}): PkcsIssueRequest {
  return {
    jobId: newJobId(),
    profile: 'user',
    subject: 'CN=Alice Example,O=Corp',
    sans: [
      { type: 'email', value: 'alice@corp.test' },
      { type: 'upn', value: 'alice@corp.test' },
    ],
    keyAlgorithm: 'ec-p256',
    protection: 'modern',
    devicePublicKey: t.devicePublicKeyPem,
    ...over,
  };
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(OutpostError);
    return (e as OutpostError).code;
  }
  return undefined;
}

const keyShape: Record<KeyAlgorithm, { type: string; bits?: number; curve?: string }> = {
  'rsa-2048': { type: 'rsa', bits: 2048 },
  'rsa-3072': { type: 'rsa', bits: 3072 },
  'rsa-4096': { type: 'rsa', bits: 4096 },
  'ec-p256': { type: 'ec', curve: 'prime256v1' },
  'ec-p384': { type: 'ec', curve: 'secp384r1' },
};

describe('issuePkcs with the built-in CA', () => {
  const cases = KEY_ALGORITHMS.flatMap((algorithm) =>
    (['modern', 'legacy'] as const).map((protection) => [algorithm, protection] as const),
  );

  it.each(cases)(
    '%s, %s: openssl opens the PKCS#12 with the decrypted password and verifies the certificate',
    async (keyAlgorithm, protection) => {
      const req = request({ keyAlgorithm, protection });
      const issued = await issuePkcs(deps(), req);
      const password = t.devicePassword(issued.encryptedPassword);
      expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(issued.passwordEncryption).toBe('RSA-OAEP-SHA256');

      const dump = opensslAll(
        [
          'pkcs12',
          '-in',
          'in.p12',
          '-passin',
          'file:pw',
          '-nodes',
          ...(protection === 'legacy' ? ['-legacy'] : []),
        ],
        { 'in.p12': issued.pfx, pw: `${password}\n` },
      );
      expect(dump.status, dump.output).toBe(0);
      const blocks = pemBlocks(dump.output);
      const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
      expect(certs).toEqual([issued.record.der, t.ca.caCertificateDer]);
      const keyDer = blocks.find((b) => b.label === 'PRIVATE KEY')!.der;
      const publicKey = createPublicKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }));
      const leaf = new X509Certificate(issued.record.der);
      expect(publicKey.export({ type: 'spki', format: 'der' })).toEqual(
        leaf.publicKey.export({ type: 'spki', format: 'der' }),
      );
      const shape = keyShape[keyAlgorithm];
      expect(publicKey.asymmetricKeyType).toBe(shape.type);
      if (shape.bits) expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(shape.bits);
      if (shape.curve) expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(shape.curve);

      const verify = opensslAll(['verify', '-CAfile', 'ca.pem', 'leaf.pem'], {
        'ca.pem': t.caPem,
        'leaf.pem': leaf.toString(),
      });
      expect(verify.output).toContain('leaf.pem: OK');
      expect(leaf.subject).toContain('CN=Alice Example');
      expect(leaf.subjectAltName).toContain('email:alice@corp.test');
      expect((await t.inventory.byRequester(`job:${req.jobId}`))?.serialHex).toBe(issued.record.serialHex);
      expect(issued.record.profile).toBe('user');
    },
    // RSA-4096 key generation alone takes seconds on a busy machine
    60_000,
  );

  it('hands userId and deviceId to the authority as directory claims, requester job:<id>', async () => {
    const seen: unknown[] = [];
    const authority: Pick<Authority, 'issueDirect'> = {
      issueDirect: (req) => {
        seen.push({ claims: req.claims, requester: req.requester, profile: req.profile });
        return t.authority.issueDirect(req);
      },
    };
    const req = request({ userId: 'alice', deviceId: 'ipad-42' });
    await issuePkcs(deps({ authority }), req);
    expect(seen).toEqual([
      { claims: { userId: 'alice', deviceId: 'ipad-42' }, requester: `job:${req.jobId}`, profile: 'user' },
    ]);
  });

  it('applies the profile policy (key type, SAN types) and names the profile', async () => {
    expect(await codeOf(() => issuePkcs(deps(), request({ profile: 'rsa-only' })))).toBe(
      ErrorCodes.badRequest,
    );
    expect(
      await codeOf(() => issuePkcs(deps(), request({ profile: 'rsa-only', keyAlgorithm: 'rsa-2048' }))),
    ).toBe(ErrorCodes.badRequest);
    expect(await codeOf(() => issuePkcs(deps(), request({ profile: 'nope' })))).toBe(ErrorCodes.badRequest);
  });

  it.each([
    [
      'an EC key',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string,
    ],
    [
      'a 1024-bit RSA key',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string,
    ],
    ['garbage', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'],
  ])('refuses %s as device key before generating anything', async (_name, devicePublicKey) => {
    const checkpoints = new MemoryCheckpoints();
    const req = request({ devicePublicKey });
    expect(await codeOf(() => issuePkcs(deps({ checkpoints }), req))).toBe(ErrorCodes.badRequest);
    expect(checkpoints.saved.size).toBe(0);
  });
});

describe('issuePkcs is exactly-once across crashes', () => {
  /** A crash is a throw at the named point; the re-run gets the same stores, as after a restart. */
  class Crash extends Error {}

  function countingAuthority(crash: 'before' | 'after' | 'never' = 'never') {
    const calls = { attempts: 0, issued: 0 };
    const authority: Pick<Authority, 'issueDirect'> = {
      async issueDirect(req) {
        calls.attempts++;
        if (crash === 'before') throw new Crash('crash before issuance');
        const record = await t.authority.issueDirect(req);
        calls.issued++;
        if (crash === 'after') throw new Crash('crash after the inventory recorded it');
        return record;
      },
    };
    return { authority, calls };
  }

  it('keeps the private key sealed in the checkpoint, bound to the job', async () => {
    const checkpoints = new MemoryCheckpoints();
    const req = request({ keyAlgorithm: 'rsa-2048' });
    const issued = await issuePkcs(deps({ checkpoints }), req);
    const sealed = checkpoints.get(req.jobId)!;
    const { keys } = readPkcs12(issued.pfx, t.devicePassword(issued.encryptedPassword));
    const pkcs8 = keys[0]!.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(sealed.includes(pkcs8.subarray(-64))).toBe(false);
    expect(sealed.subarray(0, 4).toString()).toBe('OPK1');
    // another job cannot use it (AAD = job id), another sealing key cannot open it
    const other = { ...req, jobId: newJobId() };
    checkpoints.put(other.jobId, sealed);
    expect(await codeOf(() => issuePkcs(deps({ checkpoints }), other))).toBe(ErrorCodes.internal);
    const rekeyed = KeySealer.withKey(Buffer.alloc(32, 7));
    expect(await codeOf(() => issuePkcs(deps({ checkpoints, sealer: rekeyed }), req))).toBe(
      ErrorCodes.internal,
    );
  });

  it('crash while writing the checkpoint: the re-run starts over and issues once', async () => {
    const checkpoints = new MemoryCheckpoints();
    let failPut = true;
    const flaky = {
      get: (id: string) => checkpoints.get(id),
      put: (id: string, data: Buffer) => {
        if (failPut) {
          failPut = false;
          throw new Crash('crash in put');
        }
        checkpoints.put(id, data);
      },
    };
    const { authority, calls } = countingAuthority();
    const req = request();
    await expect(issuePkcs(deps({ checkpoints: flaky, authority }), req)).rejects.toBeInstanceOf(Crash);
    expect(calls.attempts).toBe(0);
    const issued = await issuePkcs(deps({ checkpoints: flaky, authority }), req);
    expect(calls.issued).toBe(1);
    expect((await t.inventory.byRequester(`job:${req.jobId}`))?.serialHex).toBe(issued.record.serialHex);
  });

  it('crash after the checkpoint, before issuance: the re-run issues with the saved key', async () => {
    const checkpoints = new MemoryCheckpoints();
    const req = request();
    const first = countingAuthority('before');
    await expect(issuePkcs(deps({ checkpoints, authority: first.authority }), req)).rejects.toBeInstanceOf(
      Crash,
    );
    const savedKey = t.sealer.unseal(checkpoints.get(req.jobId)!, req.jobId);
    const second = countingAuthority();
    const issued = await issuePkcs(deps({ checkpoints, authority: second.authority }), req);
    expect(second.calls.issued).toBe(1);
    expect(new X509Certificate(issued.record.der).publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      createPublicKey(savedKey).export({ type: 'spki', format: 'der' }),
    );
  });

  it('crash after issuance, before the result: the re-run reuses the certificate and key', async () => {
    const checkpoints = new MemoryCheckpoints();
    const req = request({ protection: 'legacy' });
    const first = countingAuthority('after');
    await expect(issuePkcs(deps({ checkpoints, authority: first.authority }), req)).rejects.toBeInstanceOf(
      Crash,
    );
    const recorded = (await t.inventory.byRequester(`job:${req.jobId}`))!;
    const count = await t.inventory.count();
    const second = countingAuthority();
    const issued = await issuePkcs(deps({ checkpoints, authority: second.authority }), req);
    expect(second.calls.attempts).toBe(0);
    expect(await t.inventory.count()).toBe(count);
    expect(issued.record.serialHex).toBe(recorded.serialHex);
    // a completed job run again (duplicate delivery the journal missed) also reuses
    const again = await issuePkcs(deps({ checkpoints, authority: second.authority }), req);
    expect(again.record.serialHex).toBe(recorded.serialHex);
    expect(second.calls.attempts).toBe(0);
    const { keys, certificates } = readPkcs12(again.pfx, t.devicePassword(again.encryptedPassword));
    expect(certificates[0]).toEqual(recorded.der);
    expect(createPublicKey(keys[0]!.privateKey).export({ type: 'spki', format: 'der' })).toEqual(
      new X509Certificate(recorded.der).publicKey.export({ type: 'spki', format: 'der' }),
    );
  });

  it('a lost checkpoint with a certificate already issued is a final conflict, not a second certificate', async () => {
    const checkpoints = new MemoryCheckpoints();
    const req = request();
    await issuePkcs(deps({ checkpoints }), req);
    const { authority, calls } = countingAuthority();
    expect(
      await codeOf(() => issuePkcs(deps({ checkpoints: new MemoryCheckpoints(), authority }), req)),
    ).toBe(ErrorCodes.conflict);
    expect(calls.attempts).toBe(0);
  });
});
