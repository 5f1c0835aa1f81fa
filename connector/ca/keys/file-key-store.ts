import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  generateKeyPair,
  type KeyAlgorithm,
  keyPairSigner,
  loadPrivateKey,
  privateKeyToPem,
} from '../../../certs/keys.js';
import { firstDer, toPem } from '../../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { CaFiles, ensurePrivateDir, pathIn, readIfExists, writeFileAtomic } from '../builtin/files.js';
import type { KeyRole, KeyStore, StoredCertificate, StoreKey } from './key-store.js';

const fileNames: Record<KeyRole, { cert: string; key: string }> = {
  ca: { cert: CaFiles.caCert, key: CaFiles.caKey },
  ra: { cert: CaFiles.raCert, key: CaFiles.raKey },
  ocsp: { cert: CaFiles.ocspCert, key: CaFiles.ocspKey },
};

/**
 * Keys as PKCS#8 PEM files in the CA directory (0600, the directory 0700), each beside its
 * certificate: ca.key/ca.pem, ra.key/ra.pem, ocsp.key/ocsp.pem. The layout Outpost always had.
 */
export class FileKeyStore implements KeyStore {
  readonly kind = 'file';
  /** The private key behind each StoreKey this store made, for `save`. */
  private readonly privateKeys = new WeakMap<StoreKey, KeyObject>();

  constructor(private readonly dir: string) {}

  async hasAny(roles: readonly KeyRole[]): Promise<boolean> {
    for (const role of roles) {
      const names = fileNames[role];
      for (const name of [names.cert, names.key]) if (await readIfExists(pathIn(this.dir, name))) return true;
    }
    return false;
  }

  async load(role: KeyRole): Promise<StoredCertificate | undefined> {
    const names = fileNames[role];
    const [cert, key] = await Promise.all([
      readIfExists(pathIn(this.dir, names.cert)),
      readIfExists(pathIn(this.dir, names.key)),
    ]);
    if (!cert && !key) return undefined;
    if (!cert || !key) {
      throw new OutpostError(ErrorCodes.config, `found ${cert ? names.cert : names.key} without its pair`, {
        detail: this.dir,
      });
    }
    return {
      certDer: firstDer(cert.toString('utf8'), 'CERTIFICATE'),
      key: this.wrap(loadPrivateKey(key).privateKey),
    };
  }

  async generate(_role: KeyRole, algorithm: KeyAlgorithm): Promise<StoreKey> {
    return this.wrap((await generateKeyPair(algorithm)).privateKey);
  }

  async importKey(_role: KeyRole, privateKey: KeyObject): Promise<StoreKey> {
    return this.wrap(privateKey);
  }

  /** Key first (0600, DESIGN rule 6), then the certificate, so no certificate is without its key. */
  async save(role: KeyRole, key: StoreKey, certDer: Buffer): Promise<void> {
    const privateKey = this.privateKeys.get(key);
    if (!privateKey) throw new OutpostError(ErrorCodes.internal, 'key from another key store');
    const names = fileNames[role];
    await ensurePrivateDir(this.dir);
    await writeFileAtomic(pathIn(this.dir, names.key), privateKeyToPem(privateKey), 0o600);
    await writeFileAtomic(pathIn(this.dir, names.cert), toPem('CERTIFICATE', certDer), 0o600);
  }

  async exportPrivateKey(role: KeyRole): Promise<KeyObject> {
    const stored = await this.load(role);
    const privateKey = stored && this.privateKeys.get(stored.key);
    if (!privateKey) throw new OutpostError(ErrorCodes.notFound, `no ${role} key in ${this.dir}`);
    return privateKey;
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    return { ok: true, detail: 'file' }; // the keys were read at start; nothing to lose since
  }

  close(): void {}

  private wrap(privateKey: KeyObject): StoreKey {
    const key: StoreKey = {
      signer: keyPairSigner({ privateKey, publicKey: createPublicKey(privateKey) }),
      decryptionKey: privateKey.asymmetricKeyType === 'rsa' ? privateKey : undefined,
    };
    this.privateKeys.set(key, privateKey);
    return key;
  }
}
