import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildCertificate,
  type CertificateTemplate,
  randomSerial,
  serialHex,
} from '../../certs/certificate.js';
import { generateKeyPair, type KeyPair, spkiDer } from '../../certs/keys.js';
import { toPem } from '../../certs/pem.js';
import { keyObjectSigner } from '../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { AUTH_FAILURE_MESSAGES } from './auth-result.js';
import {
  CertificateAuthenticator,
  type CertificateAuthenticatorOptions,
} from './certificate-authenticator.js';
import { inventoryRevocationCheck } from './revocation-check.js';

const NOW = new Date('2030-06-01T12:00:00Z');
const clock = () => NOW;
const day = 86_400_000;

interface Issued {
  der: Buffer;
  keys: KeyPair;
  serialHex: string;
}

async function issue(
  subject: string,
  issuer: Issued | undefined,
  overrides: Partial<CertificateTemplate> = {},
): Promise<Issued> {
  const keys = await generateKeyPair('ec-p256');
  const serial = randomSerial();
  const signerKeys = issuer?.keys ?? keys;
  const der = buildCertificate(
    {
      subject,
      spkiDer: spkiDer(keys.publicKey),
      ...(issuer ? { issuer: issuer.der } : {}),
      serial,
      notBefore: new Date(NOW.getTime() - day),
      notAfter: new Date(NOW.getTime() + 30 * day),
      isCa: false,
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
      ...overrides,
    },
    keyObjectSigner(signerKeys.privateKey, signerKeys.publicKey),
    'sha256',
  );
  return { der, keys, serialHex: serialHex(serial) };
}

const CA = { isCa: true, keyUsage: ['keyCertSign', 'cRLSign'], eku: [] };

let root: Issued;
let intermediate: Issued;
let otherRoot: Issued;
let alice: Issued;
let viaIntermediate: Issued;

beforeAll(async () => {
  root = await issue('CN=Outpost Root,O=Example', undefined, CA);
  otherRoot = await issue('CN=Other Root', undefined, CA);
  intermediate = await issue('CN=Devices CA,O=Example', root, { ...CA, pathLen: 0 });
  alice = await issue('CN=alice,OU=vpn-users,OU=staff,O=Example', root, {
    sans: { dns: [], email: ['alice@example.test'], uri: [], ip: [], upn: ['alice@corp.test'] },
  });
  viaIntermediate = await issue('UID=bob,CN=Bob Brown,O=Example', intermediate);
});

function authenticator(overrides: Partial<CertificateAuthenticatorOptions> = {}): CertificateAuthenticator {
  return new CertificateAuthenticator({
    trustAnchorsPem: toPem('CERTIFICATE', root.der),
    usernameFrom: 'cn',
    clock,
    ...overrides,
  });
}

async function refusal(p: Promise<unknown>, detail: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutpostError);
  expect((e as OutpostError).code).toBe(ErrorCodes.unauthorized);
  expect((e as OutpostError).clientMessage).toBe(AUTH_FAILURE_MESSAGES.certificate);
  expect((e as OutpostError).message).toMatch(detail);
}

describe('CertificateAuthenticator', () => {
  it('accepts a leaf issued by the anchor; username from CN, groups from OU', async () => {
    const result = await authenticator({ groupsFrom: 'ou' }).authenticate([alice.der]);
    expect(result).toEqual({
      username: 'alice',
      groups: ['staff', 'vpn-users'],
      method: 'certificate',
    });
  });

  it('takes the username from UPN, email or UID when configured', async () => {
    expect((await authenticator({ usernameFrom: 'upn' }).authenticate([alice.der])).username).toBe(
      'alice@corp.test',
    );
    expect((await authenticator({ usernameFrom: 'email' }).authenticate([alice.der])).username).toBe(
      'alice@example.test',
    );
    await refusal(authenticator({ usernameFrom: 'uid' }).authenticate([alice.der]), /no uid/);
  });

  it('builds the path through a presented intermediate', async () => {
    const result = await authenticator({ usernameFrom: 'uid' }).authenticate([
      viaIntermediate.der,
      intermediate.der,
    ]);
    expect(result.username).toBe('bob');
    await refusal(authenticator().authenticate([viaIntermediate.der]), /no trusted issuer/);
  });

  it('takes the chain as the TLS socket already parsed it, with the same verdicts', async () => {
    const parsed = (ders: Buffer[]) => ders.map((d) => new X509Certificate(d));
    const chain = [viaIntermediate.der, intermediate.der];
    const result = await authenticator({ usernameFrom: 'uid' }).authenticate(chain, parsed(chain));
    expect(result.username).toBe('bob');
    await refusal(
      authenticator().authenticate([viaIntermediate.der], parsed([viaIntermediate.der])),
      /no trusted issuer/,
    );
    const stranger = await issue('CN=mallory', otherRoot);
    const strangers = [stranger.der, otherRoot.der];
    await refusal(authenticator().authenticate(strangers, parsed(strangers)), /no trusted issuer/);
  });

  it('refuses a chain from another root, a self-signed leaf, garbage and an empty chain', async () => {
    const stranger = await issue('CN=mallory', otherRoot);
    await refusal(authenticator().authenticate([stranger.der, otherRoot.der]), /no trusted issuer/);
    const selfSigned = await issue('CN=alice', undefined);
    await refusal(authenticator().authenticate([selfSigned.der]), /no trusted issuer/);
    await refusal(authenticator().authenticate([Buffer.from('not a certificate')]), /malformed/);
    await refusal(authenticator().authenticate([]), /no client certificate/);
  });

  it('leaves out the signature check OpenSSL made: a leaf alone or beside copies of anchors, verified in the handshake against exactly these anchors', async () => {
    // The leaf with its signature broken: only a verify of the signature can tell.
    const broken = Buffer.from(alice.der);
    broken[broken.length - 1]! ^= 0x01;
    expect(new X509Certificate(broken).verify(new X509Certificate(root.der).publicKey)).toBe(false);
    await refusal(authenticator().authenticate([broken]), /no trusted issuer/);
    // What OpenSSL verified against is the anchors: its verify stands for this one.
    expect((await authenticator().authenticate([broken], undefined, [root.der])).username).toBe('alice');
    // The leaf with a copy of the anchor after it (what most clients send): the same.
    expect((await authenticator().authenticate([broken, root.der], undefined, [root.der])).username).toBe(
      'alice',
    );
    expect((await authenticator().authenticate([alice.der, root.der])).username).toBe('alice');
    // Anything else, and the signature is verified here.
    await refusal(authenticator().authenticate([broken], undefined, [otherRoot.der]), /no trusted issuer/);
    await refusal(
      authenticator().authenticate([broken, otherRoot.der], undefined, [root.der]),
      /no trusted issuer/,
    );
    await refusal(
      authenticator().authenticate([broken, intermediate.der], undefined, [root.der]),
      /no trusted issuer/,
    );
    await refusal(
      authenticator().authenticate([broken], undefined, [root.der, otherRoot.der]),
      /no trusted issuer/,
    );
    await refusal(authenticator().authenticate([broken], undefined, []), /no trusted issuer/);
    // A presented intermediate: OpenSSL's path may differ from ours, every link is verified here.
    const brokenVia = Buffer.from(viaIntermediate.der);
    brokenVia[brokenVia.length - 1]! ^= 0x01;
    await refusal(
      authenticator({ usernameFrom: 'uid' }).authenticate([brokenVia, intermediate.der], undefined, [
        root.der,
      ]),
      /no trusted issuer/,
    );
    // Validity, usages and the CA flag are still checked.
    await refusal(
      authenticator({ clock: () => new Date(NOW.getTime() + 31 * day) }).authenticate([broken], undefined, [
        root.der,
      ]),
      /not valid/,
    );
  });

  it('takes the issuer OpenSSL verified with from the anchors without a signature check, one anchor or several', async () => {
    const broken = Buffer.from(alice.der);
    broken[broken.length - 1]! ^= 0x01;
    const bundle = toPem('CERTIFICATE', root.der) + toPem('CERTIFICATE', otherRoot.der);
    const twoAnchors = authenticator({ trustAnchorsPem: bundle });
    expect((await twoAnchors.authenticate([broken], undefined, [root.der, otherRoot.der])).username).toBe(
      'alice',
    );
    await refusal(twoAnchors.authenticate([broken], undefined, [root.der]), /no trusted issuer/);
  });

  it.each([
    ['a CA leaf (keyCertSign)', { isCa: true, keyUsage: ['digitalSignature', 'keyCertSign'] }, 'refused'],
    [
      'cA true with a keyUsage lacking keyCertSign',
      { isCa: true, keyUsage: ['digitalSignature'] },
      'accepted',
    ],
    ['cA false', { isCa: false, keyUsage: ['digitalSignature'] }, 'accepted'],
  ])('judges %s as a CA the same whether OpenSSL verified it or not', async (_, usage, verdict) => {
    const leaf = await issue('CN=carol', root, usage);
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: OutpostError) => (/CA certificate/.test(e.message) ? 'refused' : e.message),
      );
    expect(await outcome(authenticator().authenticate([leaf.der]))).toBe(verdict);
    expect(await outcome(authenticator().authenticate([leaf.der], undefined, [root.der]))).toBe(verdict);
  });

  it('refuses a forged signature (same issuer name, other key)', async () => {
    const fakeRoot = await issue('CN=Outpost Root,O=Example', undefined, CA);
    const forged = await issue('CN=alice', fakeRoot);
    await refusal(authenticator().authenticate([forged.der]), /no trusted issuer/);
  });

  it('checks validity against the clock', async () => {
    await refusal(
      authenticator({ clock: () => new Date(NOW.getTime() + 31 * day) }).authenticate([alice.der]),
      /not valid/,
    );
    await refusal(
      authenticator({ clock: () => new Date(NOW.getTime() - 2 * day) }).authenticate([alice.der]),
      /not valid/,
    );
  });

  it('refuses a leaf whose usages forbid client authentication, and a CA as leaf', async () => {
    const server = await issue('CN=www', root, { eku: ['serverAuth'] });
    await refusal(authenticator().authenticate([server.der]), /clientAuth/);
    const encipherOnly = await issue('CN=enc', root, { keyUsage: ['keyEncipherment'] });
    await refusal(authenticator().authenticate([encipherOnly.der]), /digitalSignature/);
    await refusal(authenticator().authenticate([intermediate.der]), /CA certificate/);
  });

  it('enforces pathLen', async () => {
    const sub = await issue('CN=Sub CA', intermediate, CA); // below a pathLen 0 intermediate
    const leaf = await issue('CN=deep', sub);
    await refusal(authenticator().authenticate([leaf.der, sub.der, intermediate.der]), /path length/);
  });

  it('asks the inventory for the revocation status by serial', async () => {
    const records = new Map([[alice.serialHex, { status: 'valid' as const }]]);
    const inventory = { bySerial: async (s: string) => records.get(s) };
    const revocation = inventoryRevocationCheck(inventory, new X509Certificate(root.der));
    const auth = authenticator({ revocation });
    expect((await auth.authenticate([alice.der])).username).toBe('alice');
    records.set(alice.serialHex, { status: 'revoked' as never });
    await refusal(auth.authenticate([alice.der]), /revoked/);
    const unrecorded = await issue('CN=ghost', root);
    await refusal(auth.authenticate([unrecorded.der]), /no known revocation status/);
    expect(
      (await authenticator({ revocation, acceptUnknownStatus: true }).authenticate([unrecorded.der]))
        .username,
    ).toBe('ghost');
  });

  it('a failing revocation source is unavailable (fail closed, retryable)', async () => {
    const auth = authenticator({
      revocation: {
        status: () => {
          throw new Error('database is locked');
        },
      },
    });
    const e = await auth.authenticate([alice.der]).catch((err: unknown) => err);
    expect((e as OutpostError).code).toBe(ErrorCodes.unavailable);
  });

  it('refuses a bundle without CA certificates', () => {
    expect(() => authenticator({ trustAnchorsPem: '' })).toThrow(/no certificate/);
    expect(() => authenticator({ trustAnchorsPem: toPem('CERTIFICATE', alice.der) })).toThrow(/non-CA/);
  });
});
