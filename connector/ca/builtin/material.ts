import type { KeyObject } from 'node:crypto';
import {
  buildCertificate,
  type ParsedCertificate,
  parseCertificate,
  randomSerial,
} from '../../../certs/certificate.js';
import {
  generateKeyPair,
  type KeyAlgorithm,
  type KeyPair,
  keyPairSigner,
  keysMatch,
  loadPrivateKey,
  privateKeyToPem,
  spkiDer,
} from '../../../certs/keys.js';
import { formatRfc4514, parseDn } from '../../../certs/name.js';
import { Oid } from '../../../certs/oids.js';
import { firstDer, toPem } from '../../../certs/pem.js';
import type { HashName, Signer } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { CaFiles, ensurePrivateDir, pathIn, readIfExists, writeFileAtomic } from './files.js';

/** A certificate with its private key, parsed once and kept for the life of the process. */
export interface KeyedCertificate {
  cert: ParsedCertificate;
  privateKey: KeyObject;
  signer: Signer;
}

export interface CaMaterial {
  ca: KeyedCertificate;
  ra: KeyedCertificate;
}

const YEAR_MS = 365.25 * 24 * 3600 * 1000;
const RA_SUFFIX = ' SCEP RA';

export interface CreateCaOptions {
  keyAlgorithm: KeyAlgorithm;
  caSubject: string;
  caValidityYears: number;
  hash: HashName;
  now: Date;
}

/** A self-signed root (RFC 5280 §4.2.1.9 CA:TRUE, keyCertSign + cRLSign) and its RA. */
export async function createCaMaterial(o: CreateCaOptions): Promise<CaMaterial> {
  const keys = await generateKeyPair(o.keyAlgorithm);
  const notBefore = wholeSecond(o.now);
  const der = buildCertificate(
    {
      subject: parseDn(o.caSubject),
      spkiDer: spkiDer(keys.publicKey),
      serial: randomSerial(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + o.caValidityYears * YEAR_MS),
      isCa: true,
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      eku: [],
    },
    keyPairSigner(keys),
    o.hash,
  );
  const ca = keyed(der, keys);
  return { ca, ra: await createRa(ca, o.hash, o.now) };
}

/**
 * The SCEP RA (RFC 8894 §3.1): clients encrypt their requests to it and it signs CertRep, so it
 * needs digitalSignature + keyEncipherment. RSA-2048 whatever the CA key, because SCEP clients
 * only do RSA key transport. Valid as long as the CA.
 */
export async function createRa(ca: KeyedCertificate, hash: HashName, now: Date): Promise<KeyedCertificate> {
  const keys = await generateKeyPair('rsa-2048');
  const der = buildCertificate(
    {
      subject: raSubject(ca.cert),
      spkiDer: spkiDer(keys.publicKey),
      issuer: ca.cert,
      serial: randomSerial(),
      notBefore: wholeSecond(now),
      notAfter: ca.cert.notAfter,
      isCa: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      eku: [],
    },
    ca.signer,
    hash,
  );
  return keyed(der, keys);
}

/** The CA subject with "<CA CN> SCEP RA" as CN (a CN is added when the CA has none). */
function raSubject(ca: ParsedCertificate): string {
  let hasCn = false;
  const rdns = ca.subject.rdns.map((rdn) =>
    rdn.map((a) => {
      if (a.oid !== Oid.commonName) return a;
      hasCn = true;
      return { oid: a.oid, value: `${a.value}${RA_SUFFIX}` };
    }),
  );
  if (!hasCn) rdns.push([{ oid: Oid.commonName, value: `Outpost${RA_SUFFIX}` }]);
  return formatRfc4514(rdns);
}

export function keyed(certDer: Buffer, keys: KeyPair): KeyedCertificate {
  const cert = parseCertificate(certDer);
  if (!keysMatch(keys.privateKey, cert.publicKey)) {
    throw new OutpostError(ErrorCodes.config, 'private key does not match certificate', {
      detail: cert.subject.text,
    });
  }
  return {
    cert,
    privateKey: keys.privateKey,
    signer: keyPairSigner({ privateKey: keys.privateKey, publicKey: cert.publicKey }),
  };
}

/** PEM certificate + PEM key (any format loadPrivateKey reads) → KeyedCertificate. */
export function keyedFromPem(certPem: string, keyPem: string, passphrase?: string): KeyedCertificate {
  return keyed(firstDer(certPem, 'CERTIFICATE'), loadPrivateKey(keyPem, passphrase));
}

// ---------------------------------------------------------------------------------------------
// Persistence

export async function hasAnyMaterial(dir: string): Promise<boolean> {
  for (const name of [CaFiles.caCert, CaFiles.caKey, CaFiles.raCert, CaFiles.raKey]) {
    if (await readIfExists(pathIn(dir, name))) return true;
  }
  return false;
}

/** Keys 0600, certificates 0644, directory 0700. Keys are written first so no cert is orphaned. */
export async function saveMaterial(dir: string, m: CaMaterial): Promise<void> {
  await ensurePrivateDir(dir);
  await writeFileAtomic(pathIn(dir, CaFiles.caKey), privateKeyToPem(m.ca.privateKey), 0o600);
  await writeFileAtomic(pathIn(dir, CaFiles.caCert), toPem('CERTIFICATE', m.ca.cert.der), 0o600);
  await saveRa(dir, m.ra);
}

export async function saveRa(dir: string, ra: KeyedCertificate): Promise<void> {
  await writeFileAtomic(pathIn(dir, CaFiles.raKey), privateKeyToPem(ra.privateKey), 0o600);
  await writeFileAtomic(pathIn(dir, CaFiles.raCert), toPem('CERTIFICATE', ra.cert.der), 0o600);
}

/** Loads the CA (required) and the RA (undefined when its files are absent). */
export async function loadMaterial(dir: string): Promise<{ ca: KeyedCertificate; ra?: KeyedCertificate }> {
  const ca = await loadPair(dir, CaFiles.caCert, CaFiles.caKey);
  if (!ca) throw new OutpostError(ErrorCodes.config, 'built-in CA material incomplete', { detail: dir });
  return { ca, ...(await raIfPresent(dir)) };
}

async function raIfPresent(dir: string): Promise<{ ra?: KeyedCertificate }> {
  const ra = await loadPair(dir, CaFiles.raCert, CaFiles.raKey);
  return ra ? { ra } : {};
}

async function loadPair(
  dir: string,
  certName: string,
  keyName: string,
): Promise<KeyedCertificate | undefined> {
  const [cert, key] = await Promise.all([
    readIfExists(pathIn(dir, certName)),
    readIfExists(pathIn(dir, keyName)),
  ]);
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new OutpostError(ErrorCodes.config, `found ${cert ? certName : keyName} without its pair`, {
      detail: dir,
    });
  }
  return keyedFromPem(cert.toString('utf8'), key.toString('utf8'));
}

function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
