import { constants, generateKeyPairSync, type KeyObject, privateDecrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../certs/pem.js';
import { BuiltinCa } from '../../ca/builtin/builtin-ca.js';
import type { CaBackend } from '../../ca/ca-backend.js';
import { Authority } from '../../issuance/authority.js';
import { ChallengeVerifier } from '../../issuance/challenge/challenge-verifier.js';
import type { ProfilePolicy } from '../../issuance/profile-policy.js';
import { Revocation } from '../../revocation/revocation.js';
import { SqliteChallengeStore } from '../../store/challenge-store.js';
import { openDatabase } from '../../store/database.js';
import { SqliteInventory } from '../../store/inventory.js';
import { SqlitePendingStore } from '../../store/pending-store.js';
import { KeySealer } from '../key-sealer.js';
import type { JobCheckpoints } from '../ports.js';

/** Tests only: profiles the PKCS tests issue under. */
export const testProfiles: ProfilePolicy[] = [
  {
    name: 'user',
    validityDays: 365,
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    eku: ['clientAuth', 'emailProtection'],
    keyTypes: ['rsa', 'ec'],
    minRsaBits: 2048,
    approval: 'manual', // jobs are their own approval: issueDirect ignores this
    allowedSanTypes: ['dns', 'email', 'uri', 'upn', 'ip'],
  },
  {
    name: 'rsa-only',
    validityDays: 30,
    keyUsage: ['digitalSignature'],
    eku: ['clientAuth'],
    keyTypes: ['rsa'],
    minRsaBits: 3072,
    approval: 'auto',
    allowedSanTypes: [],
  },
];

/** An in-memory checkpoint store, as the link journal would keep it. */
export class MemoryCheckpoints implements JobCheckpoints {
  readonly saved = new Map<string, Buffer>();
  get(jobId: string): Buffer | undefined {
    return this.saved.get(jobId);
  }
  put(jobId: string, data: Buffer): void {
    this.saved.set(jobId, Buffer.from(data));
  }
}

/**
 * Tests only: a connector in a temp directory (built-in CA, in-memory SQLite inventory, the
 * authority) plus a device key pair to receive PKCS#12 passwords.
 */
export class TestConnector {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-pkcs-'));
  readonly db = openDatabase(':memory:');
  readonly inventory = new SqliteInventory(this.db);
  readonly checkpoints = new MemoryCheckpoints();
  readonly sealer = KeySealer.withKey(randomBytes(32));
  readonly device = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ca!: BuiltinCa;
  authority!: Authority;
  revocation!: Revocation;

  static async open(backend?: (ca: BuiltinCa) => CaBackend): Promise<TestConnector> {
    const t = new TestConnector();
    t.ca = await BuiltinCa.open({ dir: join(t.dir, 'ca'), keyAlgorithm: 'rsa-2048', inventory: t.inventory });
    t.authority = t.authorityWith(backend ? backend(t.ca) : t.ca);
    t.revocation = t.revocationWith(backend ? backend(t.ca) : t.ca);
    return t;
  }

  authorityWith(backend: CaBackend): Authority {
    const clock = () => new Date();
    return new Authority({
      backend,
      inventory: this.inventory,
      pending: new SqlitePendingStore(this.db),
      challenges: new ChallengeVerifier({
        staticChallenge: null,
        oneTime: false,
        store: new SqliteChallengeStore(this.db),
        clock,
      }),
      profiles: new Map(testProfiles.map((p) => [p.name, p])),
      defaultProfile: 'user',
      clock,
    });
  }

  revocationWith(backend: CaBackend): Revocation {
    return new Revocation({ backend, inventory: this.inventory, clock: () => new Date() });
  }

  get devicePublicKeyPem(): string {
    return this.device.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }

  get caPem(): string {
    return toPem('CERTIFICATE', this.ca.caCertificateDer);
  }

  /** What the device does with `encryptedPassword`: RSA-OAEP-SHA256 with its private key. */
  devicePassword(encrypted: Buffer, key: KeyObject = this.device.privateKey): string {
    return privateDecrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      encrypted,
    ).toString('utf8');
  }

  cleanup(): void {
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
