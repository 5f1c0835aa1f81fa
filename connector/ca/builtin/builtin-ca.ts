import {
  buildCertificate,
  type ParsedCertificate,
  parseCertificate,
  randomSerial,
  serialHex,
} from '../../../certs/certificate.js';
import type { RecipientKey } from '../../../certs/cms/index.js';
import { type KeyAlgorithm, keysMatch, loadPrivateKey } from '../../../certs/keys.js';
import { firstDer } from '../../../certs/pem.js';
import { readPkcs12 } from '../../../certs/pkcs12/index.js';
import { writePkcs12Entries } from '../../../certs/pkcs12/write-pkcs12.js';
import type { HashName, Signer } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { RevocationReason } from '../../../link/schema/revocation-reason.js';
import type { Inventory, SharedCrls } from '../../ports.js';
import type { CaBackend, IssuedCertificate, IssueRequest } from '../ca-backend.js';
import { FileKeyStore } from '../keys/file-key-store.js';
import type { KeyStore } from '../keys/key-store.js';
import { CrlPublisher } from './crl-publisher.js';
import { ensurePrivateDir } from './files.js';
import {
  type CaMaterial,
  createCaMaterial,
  createRa,
  hasAnyMaterial,
  importKeyed,
  type KeyedCertificate,
  loadMaterial,
  saveMaterial,
  saveRa,
} from './material.js';

export interface BuiltinCaOptions {
  /** Holds crl.der, and with file keys ca.pem, ca.key, ra.pem, ra.key; created 0700. */
  dir: string;
  /** Where the CA, RA and OCSP keys live (the signer port); files in `dir` when absent. */
  keyStore?: KeyStore;
  keyAlgorithm?: Extract<KeyAlgorithm, 'rsa-3072' | 'rsa-2048' | 'ec-p384'>;
  caSubject?: string;
  caValidityYears?: number;
  /** Put into issued certificates as the CRL distribution point. */
  crlUrl?: string;
  /** Put into issued certificates as the OCSP responder (AIA id-ad-ocsp, RFC 5280 §4.2.2.1). */
  ocspUrl?: string;
  crlValidityHours?: number;
  inventory: Inventory;
  /** A site's shared CRLs (crl-publisher.ts); this node's crl.der alone when absent. */
  sharedCrls?: SharedCrls;
  clock?: () => Date;
  hash?: HashName;
}

export interface ImportPemMaterial {
  caCertPem: string;
  caKeyPem: string;
  caKeyPassphrase?: string;
  /** Without an RA, a new one is made and signed by the imported CA. */
  raCertPem?: string;
  raKeyPem?: string;
  raKeyPassphrase?: string;
}

const DEFAULTS = {
  keyAlgorithm: 'rsa-3072',
  caSubject: 'CN=Outpost Root CA,O=Outpost',
  caValidityYears: 10,
  crlValidityHours: 168,
  hash: 'sha256',
} as const;

/** Tolerance for clients whose clocks run behind: certificates are valid from 5 minutes ago. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 3600 * 1000;

type Resolved = Required<Omit<BuiltinCaOptions, 'crlUrl' | 'ocspUrl' | 'sharedCrls'>> &
  Pick<BuiltinCaOptions, 'crlUrl' | 'ocspUrl' | 'sharedCrls'>;

/** What `ca export` writes: the CA and its RA, each with its key, in one PKCS#12 file. */
export const EXPORT_FRIENDLY_NAMES = { ca: 'Outpost CA', ra: 'Outpost SCEP RA' } as const;

/**
 * The appliance's own CA. Material is parsed once at open; `issue()` does one private-key operation
 * and no I/O. Revocation regenerates the CRL from the inventory (the caller marks the inventory first).
 */
export class BuiltinCa implements CaBackend {
  readonly type = 'builtin';
  private readonly crl: CrlPublisher;

  private constructor(
    private readonly opts: Resolved,
    private readonly ca: KeyedCertificate,
    private readonly ra: KeyedCertificate,
  ) {
    this.crl = new CrlPublisher(
      opts.dir,
      ca,
      opts.inventory,
      opts.crlValidityHours * 3600 * 1000,
      opts.hash,
      opts.sharedCrls,
    );
  }

  /** Loads the CA from `dir`, creating it (and the RA and a first CRL) on first start. */
  static async open(options: BuiltinCaOptions): Promise<BuiltinCa> {
    const opts = resolve(options);
    if (!(await hasAnyMaterial(opts.keyStore))) return BuiltinCa.init(options, { force: false });
    const loaded = await loadMaterial(opts.keyStore);
    const ra = loaded.ra ?? (await BuiltinCa.newRa(opts, loaded.ca));
    return BuiltinCa.start(opts, { ca: loaded.ca, ra });
  }

  /** Creates new CA material; refuses to replace existing material unless `force`. */
  static async init(options: BuiltinCaOptions, { force }: { force: boolean }): Promise<BuiltinCa> {
    const opts = resolve(options);
    await refuseOverwrite(opts, force);
    const material = await createCaMaterial(opts.keyStore, { ...opts, now: opts.clock() });
    await saveMaterial(opts.keyStore, material);
    return BuiltinCa.start(opts, material, { freshCrl: true });
  }

  /** Imports an existing CA (and optionally its RA) from PEM; refuses to overwrite unless `force`. */
  static async importPem(
    options: BuiltinCaOptions,
    m: ImportPemMaterial,
    { force }: { force: boolean } = { force: false },
  ): Promise<BuiltinCa> {
    const opts = resolve(options);
    await refuseOverwrite(opts, force);
    const caCertDer = firstDer(m.caCertPem, 'CERTIFICATE');
    if (!parseCertificate(caCertDer).isCa)
      throw new OutpostError(ErrorCodes.config, 'imported certificate is not a CA');
    const store = opts.keyStore;
    const ca = await importKeyed(
      store,
      'ca',
      caCertDer,
      loadPrivateKey(m.caKeyPem, m.caKeyPassphrase).privateKey,
    );
    const ra =
      m.raCertPem && m.raKeyPem
        ? await importKeyed(
            store,
            'ra',
            firstDer(m.raCertPem, 'CERTIFICATE'),
            loadPrivateKey(m.raKeyPem, m.raKeyPassphrase).privateKey,
          )
        : await createRa(store, ca, opts.hash, opts.clock());
    await saveMaterial(store, { ca, ra });
    return BuiltinCa.start(opts, { ca, ra }, { freshCrl: true });
  }

  /**
   * Imports an existing CA from a PKCS#12 file (RFC 7292; see certs/pkcs12 for the schemes read).
   * The CA is the first certificate with basicConstraints CA whose private key is in the file. An
   * RA may travel with it as a second key and certificate: a non-CA certificate with
   * keyEncipherment, issued by that CA, whose key is present; otherwise a new RA is made as in
   * importPem. Other certificates (the CA's own issuers) are not kept. Refuses to overwrite
   * unless `force`; a wrong password is badSignature.
   */
  static async importPkcs12(
    options: BuiltinCaOptions,
    { der, password }: { der: Buffer; password: string },
    { force }: { force: boolean } = { force: false },
  ): Promise<BuiltinCa> {
    const opts = resolve(options);
    await refuseOverwrite(opts, force);
    const { certificates, keys } = readPkcs12(der, password);
    const withKeys = certificates.flatMap((certDer) => {
      const cert = parseCertificate(certDer);
      const key = keys.find((k) => keysMatch(k.privateKey, cert.publicKey));
      return key ? [{ cert, privateKey: key.privateKey }] : [];
    });
    const caEntry = withKeys.find((k) => k.cert.isCa);
    if (!caEntry) {
      throw new OutpostError(
        ErrorCodes.config,
        'the PKCS#12 file holds no CA certificate (basicConstraints CA) together with its private key',
      );
    }
    const raEntry = withKeys.find(
      (k) =>
        !k.cert.isCa &&
        k.cert.keyUsage.includes('keyEncipherment') &&
        k.cert.issuer.der.equals(caEntry.cert.subject.der),
    );
    const store = opts.keyStore;
    const ca = await importKeyed(store, 'ca', caEntry.cert.der, caEntry.privateKey);
    const ra = raEntry
      ? await importKeyed(store, 'ra', raEntry.cert.der, raEntry.privateKey)
      : await createRa(store, ca, opts.hash, opts.clock());
    await saveMaterial(store, { ca, ra });
    return BuiltinCa.start(opts, { ca, ra }, { freshCrl: true });
  }

  private static async newRa(opts: Resolved, ca: KeyedCertificate): Promise<KeyedCertificate> {
    const ra = await createRa(opts.keyStore, ca, opts.hash, opts.clock());
    await saveRa(opts.keyStore, ra);
    return ra;
  }

  private static async start(
    opts: Resolved,
    m: CaMaterial,
    o: { freshCrl?: boolean } = {},
  ): Promise<BuiltinCa> {
    // with keys in a token, a node's CA directory (for the CRL) may not exist yet
    await ensurePrivateDir(opts.dir);
    const ca = new BuiltinCa(opts, m.ca, m.ra);
    if (o.freshCrl) await ca.crl.regenerate(opts.clock());
    else await ca.crl.load(opts.clock());
    return ca;
  }

  // ---- material exposed to the SCEP adapter ------------------------------------------------

  get caCertificateDer(): Buffer {
    return this.ca.cert.der;
  }
  get caCertificate(): ParsedCertificate {
    return this.ca.cert;
  }
  get caSigner(): Signer {
    return this.ca.signer;
  }
  get raCertificateDer(): Buffer {
    return this.ra.cert.der;
  }
  get raCertificate(): ParsedCertificate {
    return this.ra.cert;
  }
  /** Decrypts SCEP requests: the RA's key object (file keys) or a decrypter into the token. */
  get raDecryptionKey(): RecipientKey {
    const key = this.ra.key.decryptionKey;
    if (!key) throw new OutpostError(ErrorCodes.config, 'the SCEP RA key is not an RSA key');
    return key;
  }
  get keyStore(): KeyStore {
    return this.opts.keyStore;
  }
  get raSigner(): Signer {
    return this.ra.signer;
  }

  /**
   * The CA and its RA with their private keys as one PKCS#12 file (RFC 7292, PBES2/AES-256 and
   * a SHA-256 MAC), which `importPkcs12` on another node reads back. File keys only: a token's
   * keys never leave it (the store refuses).
   */
  async exportPkcs12(password: string): Promise<Buffer> {
    const store = this.opts.keyStore;
    const [caKey, raKey] = [await store.exportPrivateKey('ca'), await store.exportPrivateKey('ra')];
    return writePkcs12Entries(
      [
        { privateKey: caKey, certificate: this.ca.cert.der, friendlyName: EXPORT_FRIENDLY_NAMES.ca },
        {
          privateKey: raKey,
          certificate: this.ra.cert.der,
          chain: [this.ca.cert.der],
          friendlyName: EXPORT_FRIENDLY_NAMES.ra,
        },
      ],
      password,
      { protection: 'modern' },
    );
  }

  /** Lets go of the key store (a PKCS#11 session); the CA signs nothing after this. */
  close(): void {
    this.opts.keyStore.close();
  }

  // ---- CaBackend ----------------------------------------------------------------------------

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    if (!req.csr.signatureValid)
      throw new OutpostError(ErrorCodes.badSignature, 'CSR signature does not verify');
    const now = this.opts.clock().getTime();
    const notBefore = wholeSecond(now - BACKDATE_MS);
    // RFC 5280 §6.1.3: a chain is valid only while every certificate is; never outlive the CA.
    const notAfter = wholeSecond(
      Math.min(now + req.profile.validityDays * DAY_MS, this.ca.cert.notAfter.getTime()),
    );
    if (notAfter <= notBefore) throw new OutpostError(ErrorCodes.unavailable, 'CA certificate has expired');
    const serial = randomSerial();
    const der = buildCertificate(
      {
        subject: req.subject ?? req.csr.subject,
        spkiDer: req.csr.spkiDer,
        issuer: this.ca.cert,
        serial,
        notBefore,
        notAfter,
        isCa: false,
        keyUsage: req.profile.keyUsage,
        eku: req.profile.eku,
        sans: req.sans ?? req.csr.sans,
        ...(req.extraExtensions
          ? {
              extraExtensions: req.extraExtensions.map((e) => ({
                oid: e.oid,
                critical: e.critical,
                value: e.valueDer,
              })),
            }
          : {}),
        ...(this.opts.crlUrl ? { crlDistributionPoint: this.opts.crlUrl } : {}),
        ...(this.opts.ocspUrl ? { ocspUrl: this.opts.ocspUrl } : {}),
      },
      this.ca.signer,
      this.opts.hash,
    );
    return { der, serialHex: serialHex(serial), notBefore, notAfter };
  }

  /** The caller has already marked the inventory; this republishes the CRL. */
  async revoke(serial: string, _reason: RevocationReason): Promise<void> {
    if (!(await this.opts.inventory.bySerial(serial))) {
      throw new OutpostError(ErrorCodes.notFound, 'unknown certificate serial', { detail: serial });
    }
    await this.crl.regenerate(this.opts.clock());
  }

  caChain(): Buffer[] {
    return [this.ca.cert.der];
  }

  currentCrl(): Buffer | undefined {
    return this.crl.current();
  }

  /** Called by the service on a timer: adopts a newer CRL another process wrote. */
  reloadCrl(): Promise<boolean> {
    return this.crl.reloadIfNewer();
  }

  /** Called by the service on a timer; regenerates when less than half the CRL lifetime remains. */
  refreshCrlIfDue(now: Date = this.opts.clock()): Promise<boolean> {
    return this.crl.refreshIfDue(now);
  }
}

function resolve(o: BuiltinCaOptions): Resolved {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as BuiltinCaOptions;
  return {
    ...DEFAULTS,
    clock: () => new Date(),
    ...given,
    keyStore: o.keyStore ?? new FileKeyStore(o.dir),
  } as Resolved;
}

async function refuseOverwrite(opts: Resolved, force: boolean): Promise<void> {
  await ensurePrivateDir(opts.dir);
  if (!force && (await hasAnyMaterial(opts.keyStore))) {
    throw new OutpostError(ErrorCodes.conflict, 'CA material already exists (use force to replace it)', {
      detail: opts.keyStore.kind === 'file' ? opts.dir : 'in the PKCS#11 token',
    });
  }
}

function wholeSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
