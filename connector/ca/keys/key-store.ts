import type { KeyObject } from 'node:crypto';
import type { RecipientKey } from '../../../certs/cms/index.js';
import type { KeyAlgorithm } from '../../../certs/keys.js';
import type { Signer } from '../../../certs/signer.js';

/** The keys of the built-in CA: the CA itself, the SCEP RA, the delegated OCSP responder. */
export type KeyRole = 'ca' | 'ra' | 'ocsp';

/**
 * A private key a store holds. It signs (CA: certificates and CRLs; RA: CertReps; OCSP:
 * responses) and, for the RA, decrypts SCEP requests; nothing here hands the key itself out.
 */
export interface StoreKey {
  readonly signer: Signer;
  /** RSA keys decrypt key transport (RFC 5652 §6.2.1); undefined for EC keys. */
  readonly decryptionKey: RecipientKey | undefined;
}

export interface StoredCertificate {
  certDer: Buffer;
  key: StoreKey;
}

/**
 * The signer port (DESIGN rule 6): where the built-in CA's private keys live. Two stores:
 * `file` (PEM files, 0600, in the CA directory) and `pkcs11` (a token; keys are generated or
 * imported into it and never leave it). Certificates are stored beside their keys, so that any
 * node reaching the same store (a network HSM, or files copied with `ca export`/`ca import`)
 * has the whole CA.
 */
export interface KeyStore {
  readonly kind: 'file' | 'pkcs11';
  /** Whether anything is stored for these roles (a first start creates a CA only when nothing is). */
  hasAny(roles: readonly KeyRole[]): Promise<boolean>;
  /** The role's certificate and key; undefined when neither is stored; an error when only one is. */
  load(role: KeyRole): Promise<StoredCertificate | undefined>;
  /** A new key pair for the role, held by the store; it becomes the role's with `save`. */
  generate(role: KeyRole, algorithm: KeyAlgorithm): Promise<StoreKey>;
  /** Brings an existing private key into the store (CA import); in a token it is not extractable. */
  importKey(role: KeyRole, privateKey: KeyObject): Promise<StoreKey>;
  /**
   * Makes `key` with its certificate the role's. `retire: 'all'` removes what the role had;
   * `'expired'` keeps earlier keys until their certificates expire (OCSP signers renewed while
   * other processes may still sign with the previous one).
   */
  save(
    role: KeyRole,
    key: StoreKey,
    certDer: Buffer,
    options?: { retire?: 'all' | 'expired'; now?: Date },
  ): Promise<void>;
  /** Whether the store can be used now (a token answers, logged in), for /readyz. */
  health(): Promise<{ ok: boolean; detail: string }>;
  /** The private key itself, for `ca export`: file store only (a token key never leaves the token). */
  exportPrivateKey(role: KeyRole): Promise<KeyObject>;
  close(): void;
}
