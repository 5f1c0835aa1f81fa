import { type KeyObject, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { type ParsedCertificate, parseCertificate } from '../../../../certs/certificate.js';
import type { KeyAlgorithm } from '../../../../certs/keys.js';
import { ErrorCodes, OutpostError } from '../../../../core/errors.js';
import type { KeyRole, KeyStore, StoredCertificate, StoreKey } from '../key-store.js';
import { ckrName, Pkcs11Token, type TokenOptions } from './pkcs11-token.js';
import {
  attributeBuffers,
  createCertificateObject,
  findObjects,
  generateInToken,
  importIntoToken,
  readPublicKey,
  type TokenKeyPair,
} from './token-objects.js';
import { tokenDecrypter, tokenSigner } from './token-signer.js';

/** CKS_RO_USER_FUNCTIONS and CKS_RW_USER_FUNCTIONS (PKCS#11 v2.40 §3.6): logged in as the user. */
const USER_FUNCTIONS = new Set([1, 3]);

/** Objects carry the role in their label; a key, its public key and its certificate share one CKA_ID. */
export const tokenLabel = (role: KeyRole): string => `outpost-${role}`;

interface TokenCertificate {
  handle: Buffer;
  id: Buffer;
  cert: ParsedCertificate;
}

/**
 * The CA's keys in a PKCS#11 token. Private keys are generated in the token (or imported into
 * it) as sensitive, non-extractable token objects; certificates are stored in the token too, as
 * CKO_CERTIFICATE objects with the key's CKA_ID, so every node that logs in to the same token
 * has the whole CA. A role's current key is the one its newest certificate names.
 */
export class Pkcs11KeyStore implements KeyStore {
  readonly kind = 'pkcs11';
  private readonly pairs = new WeakMap<StoreKey, TokenKeyPair>();
  private closed = false;

  private constructor(private readonly token: Pkcs11Token) {}

  /** Loads the module and logs in; OUTPOST_ERR_KEY_STORE with a message that says what to fix otherwise. */
  static open(options: TokenOptions): Pkcs11KeyStore {
    return new Pkcs11KeyStore(Pkcs11Token.open(options));
  }

  async hasAny(roles: readonly KeyRole[]): Promise<boolean> {
    return roles.some((role) => this.certificates(role).length > 0);
  }

  async load(role: KeyRole): Promise<StoredCertificate | undefined> {
    const newest = this.certificates(role).sort(
      (a, b) => b.cert.notBefore.getTime() - a.cert.notBefore.getTime(),
    )[0];
    if (!newest) return undefined;
    const [privateKey] = findObjects(this.token, pkcs11js.CKO_PRIVATE_KEY, [
      { type: pkcs11js.CKA_ID, value: newest.id },
    ]);
    if (!privateKey) {
      throw new OutpostError(
        ErrorCodes.keyStore,
        `the token holds the ${role} certificate (${tokenLabel(role)}) without its private key`,
        { detail: newest.cert.subject.text },
      );
    }
    const [publicHandle] = findObjects(this.token, pkcs11js.CKO_PUBLIC_KEY, [
      { type: pkcs11js.CKA_ID, value: newest.id },
    ]);
    const publicKey = publicHandle ? readPublicKey(this.token, publicHandle) : newest.cert.publicKey;
    return { certDer: newest.cert.der, key: this.wrap({ id: newest.id, privateKey, publicKey }) };
  }

  async generate(role: KeyRole, algorithm: KeyAlgorithm): Promise<StoreKey> {
    return this.wrap(generateInToken(this.token, algorithm, randomBytes(16), tokenLabel(role)));
  }

  async importKey(role: KeyRole, privateKey: KeyObject): Promise<StoreKey> {
    return this.wrap(importIntoToken(this.token, privateKey, randomBytes(16), tokenLabel(role)));
  }

  async save(
    role: KeyRole,
    key: StoreKey,
    certDer: Buffer,
    options: { retire?: 'all' | 'expired'; now?: Date } = {},
  ): Promise<void> {
    const pair = this.pairs.get(key);
    if (!pair) throw new OutpostError(ErrorCodes.internal, 'key from another key store');
    const cert = parseCertificate(certDer);
    const label = tokenLabel(role);
    createCertificateObject(this.token, { der: certDer, subjectDer: cert.subject.der }, pair.id, label);
    const now = (options.now ?? new Date()).getTime();
    const retireAll = (options.retire ?? 'all') === 'all';
    const retiredIds = this.certificates(role)
      .filter((c) => !c.id.equals(pair.id) && (retireAll || c.cert.notAfter.getTime() < now))
      .map((c) => c.id);
    if (retireAll) {
      // keys of the role without a certificate too: left by a generation that never got saved
      for (const cls of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
        for (const handle of findObjects(this.token, cls, [{ type: pkcs11js.CKA_LABEL, value: label }])) {
          const [id] = attributeBuffers(this.token, handle, [pkcs11js.CKA_ID]);
          if (!id!.equals(pair.id)) retiredIds.push(id!);
        }
      }
    }
    for (const id of retiredIds) this.destroyById(label, id);
  }

  async exportPrivateKey(role: KeyRole): Promise<never> {
    throw new OutpostError(
      ErrorCodes.unsupported,
      `the ${role} key is in a PKCS#11 token (keys.store: pkcs11) and cannot leave it; give other nodes the same token instead`,
    );
  }

  /**
   * The token answers on a logged-in session (C_GetSessionInfo: a user-functions state, PKCS#11
   * v2.40 §5.6), logging in again first if the session was lost.
   */
  async health(): Promise<{ ok: boolean; detail: string }> {
    const detail = `pkcs11 token "${this.token.options.tokenLabel}"`;
    try {
      this.token.withSession((lib, session) => {
        if (!USER_FUNCTIONS.has(lib.C_GetSessionInfo(session).state)) {
          throw new Error('CKR_USER_NOT_LOGGED_IN'); // recovered like any lost login
        }
      });
      return { ok: true, detail };
    } catch (e) {
      return { ok: false, detail: `${detail}: ${ckrName(e) ?? 'does not answer'}` };
    }
  }

  /** Idempotent: the CA and whoever opened the store may both close it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.token.release();
  }

  private certificates(role: KeyRole): TokenCertificate[] {
    return findObjects(this.token, pkcs11js.CKO_CERTIFICATE, [
      { type: pkcs11js.CKA_LABEL, value: tokenLabel(role) },
    ]).map((handle) => {
      const [id, value] = attributeBuffers(this.token, handle, [pkcs11js.CKA_ID, pkcs11js.CKA_VALUE]);
      return { handle, id: id!, cert: parseCertificate(value!) };
    });
  }

  private destroyById(label: string, id: Buffer): void {
    this.token.forgetPrivateKey(id);
    for (const cls of [pkcs11js.CKO_CERTIFICATE, pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
      for (const handle of findObjects(this.token, cls, [
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
      ])) {
        this.token.withSession((lib, session) => lib.C_DestroyObject(session, handle));
      }
    }
  }

  private wrap(pair: TokenKeyPair): StoreKey {
    const rsa = pair.publicKey.asymmetricKeyType === 'rsa';
    this.token.rememberPrivateKey(pair.id, pair.privateKey);
    const key: StoreKey = {
      signer: tokenSigner(this.token, pair.id, pair.publicKey),
      decryptionKey: rsa ? tokenDecrypter(this.token, pair.id, pair.publicKey) : undefined,
    };
    this.pairs.set(key, pair);
    return key;
  }
}
