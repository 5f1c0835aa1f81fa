import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { sequence, smallInteger } from '../der-writer.js';
import { keysMatch } from '../keys.js';
import { checkIterations, Pkcs12Limits } from './limits.js';
import { passwordBytes } from './password.js';
import { certBag, dataContentInfo, encryptedDataContentInfo, shroudedKeyBag } from './write-pkcs12-bags.js';
import { legacyProtector, modernProtector, type Pkcs12Protector } from './write-pkcs12-encrypt.js';

/** `modern`: PBES2/AES-256 + SHA-256 MAC (OpenSSL 3's default). `legacy`: 3DES + SHA-1 MAC. */
export type Pkcs12Protection = 'modern' | 'legacy';

export const PKCS12_PROTECTIONS: readonly Pkcs12Protection[] = ['modern', 'legacy'];

/** One private key with its certificate and the chain to hand out with it. */
export interface Pkcs12Entry {
  privateKey: KeyObject;
  /** DER of the certificate of `privateKey`. */
  certificate: Uint8Array;
  /** DER of the issuing CA certificates, issuing CA first. */
  chain?: readonly Uint8Array[];
  /** Shown by key stores (Windows, Keychain) as the identity's name. */
  friendlyName?: string;
}

export interface WritePkcs12Options {
  protection: Pkcs12Protection;
  /** KDF and MAC iterations; OpenSSL 3's default (PKCS12_DEFAULT_ITER) is 2048. */
  iterations?: number;
}

/** OpenSSL 3's PKCS12_DEFAULT_ITER: what `openssl pkcs12 -export` uses for keys, certificates and MAC. */
export const PKCS12_DEFAULT_ITERATIONS = 2048;

/** A chain longer than this is a mistake, not a PKI. */
const MAX_CHAIN = 16;

/**
 * Writes a password-protected PKCS#12 file (RFC 7292) in the layout `openssl pkcs12 -export` uses:
 * AuthenticatedSafe = [ encryptedData(certificate bags: leaf, then chain),
 *                       data(pkcs8ShroudedKeyBag) ], with a MacData over it (password integrity,
 * §5.1). The leaf's certificate bag and the key bag carry the same localKeyId (the SHA-1 of the
 * certificate, as OpenSSL sets it; Windows and Keychain pair key and certificate by it) and the
 * friendlyName when given.
 */
export function writePkcs12(entry: Pkcs12Entry, password: string, options: WritePkcs12Options): Buffer {
  return writePkcs12Entries([entry], password, options);
}

/**
 * Several keys in one file (as `openssl pkcs12 -export` cannot, but every reader of RFC 7292
 * accepts): each entry's certificate bag, then its chain, all in the one encrypted bag list; one
 * key bag per entry, paired with its certificate by localKeyId. `outpost ca export` writes the CA
 * and its RA this way.
 */
export function writePkcs12Entries(
  entries: readonly Pkcs12Entry[],
  password: string,
  options: WritePkcs12Options,
): Buffer {
  const iterations = checkIterations(options.iterations ?? PKCS12_DEFAULT_ITERATIONS, 'PKCS#12 writer');
  if (entries.length === 0) throw new OutpostError(ErrorCodes.badRequest, 'a PKCS#12 file needs a key');
  for (const entry of entries) checkEntry(entry, entry.chain ?? []);
  const protector = protectorFor(options.protection, password, iterations);
  const certBags: Buffer[] = [];
  const keyBags: Buffer[] = [];
  for (const entry of entries) {
    const attributes = {
      localKeyId: createHash('sha1').update(entry.certificate).digest(),
      ...(entry.friendlyName !== undefined ? { friendlyName: entry.friendlyName } : {}),
    };
    certBags.push(
      certBag(entry.certificate, attributes),
      ...(entry.chain ?? []).map((der) => certBag(der, {})),
    );
    const pkcs8 = entry.privateKey.export({ type: 'pkcs8', format: 'der' });
    keyBags.push(shroudedKeyBag(protector.encrypt(pkcs8), attributes));
    pkcs8.fill(0);
  }
  const authSafe = sequence(
    encryptedDataContentInfo(protector.encrypt(sequence(...certBags))),
    dataContentInfo(sequence(...keyBags)),
  );
  const pfx = sequence(smallInteger(3), dataContentInfo(authSafe), protector.mac(authSafe));
  if (pfx.length > Pkcs12Limits.maxBytes) {
    throw new OutpostError(ErrorCodes.limit, 'the PKCS#12 file would be larger than readers accept');
  }
  return pfx;
}

function protectorFor(protection: Pkcs12Protection, password: string, iterations: number): Pkcs12Protector {
  const bytes = passwordBytes(password);
  switch (protection) {
    case 'modern':
      return modernProtector(bytes, iterations);
    case 'legacy':
      return legacyProtector(bytes, iterations);
    default:
      throw new OutpostError(ErrorCodes.badRequest, `unknown PKCS#12 protection ${String(protection)}`);
  }
}

/** The key must be the certificate's: a file whose key and certificate differ installs nowhere. */
function checkEntry(entry: Pkcs12Entry, chain: readonly Uint8Array[]): void {
  if (chain.length > MAX_CHAIN) throw new OutpostError(ErrorCodes.limit, 'PKCS#12 chain too long');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(entry.certificate);
  } catch (cause) {
    throw new OutpostError(ErrorCodes.badRequest, 'the PKCS#12 certificate does not parse', { cause });
  }
  if (!keysMatch(entry.privateKey, certificate.publicKey)) {
    throw new OutpostError(ErrorCodes.badRequest, 'the private key does not belong to the certificate');
  }
}
