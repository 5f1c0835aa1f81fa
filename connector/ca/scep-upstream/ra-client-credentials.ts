import type { KeyObject } from 'node:crypto';
import { buildCertificate, parseCertificate, randomSerial } from '../../../certs/certificate.js';
import {
  generateKeyPair,
  keyPairSigner,
  keysMatch,
  loadPrivateKey,
  privateKeyToPem,
  spkiDer,
} from '../../../certs/keys.js';
import { firstDer, pemBlocks, toPem } from '../../../certs/pem.js';
import type { Signer } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { ensurePrivateDir, pathIn, readIfExists, writeFileAtomic } from '../builtin/files.js';

/** The RA's own identity towards the upstream CA: it signs the PKCSReq and receives the CertRep. */
export interface RaClientCredentials {
  certDer: Buffer;
  privateKey: KeyObject;
  signer: Signer;
}

export const UpstreamFiles = {
  key: 'ra-client.key',
  cert: 'ra-client.pem',
  /** The last GetCACert answer, so GetCACert to devices works while the upstream is down. */
  caCerts: 'upstream-ca.pem',
} as const;

const SUBJECT = 'CN=Outpost SCEP RA client,O=Outpost';
const VALIDITY_MS = 10 * 365.25 * 24 * 3600 * 1000;

/**
 * Loads the RA client key (0600) and its self-signed certificate from `dir`, creating both on
 * first use. RFC 8894 §2.3: a requester without a CA-issued certificate signs with a self-signed
 * one; the upstream encrypts its CertRep to that certificate. RSA, because SCEP key transport is RSA.
 */
export async function openRaClientCredentials(dir: string, now: Date): Promise<RaClientCredentials> {
  await ensurePrivateDir(dir);
  const [keyPem, certPem] = await Promise.all([
    readIfExists(pathIn(dir, UpstreamFiles.key)),
    readIfExists(pathIn(dir, UpstreamFiles.cert)),
  ]);
  if (keyPem && certPem) {
    const keys = loadPrivateKey(keyPem);
    const certDer = firstDer(certPem.toString('utf8'), 'CERTIFICATE');
    if (!keysMatch(keys.privateKey, parseCertificate(certDer).publicKey)) {
      throw new OutpostError(ErrorCodes.config, 'the RA client key does not match its certificate', {
        detail: dir,
      });
    }
    return { certDer, privateKey: keys.privateKey, signer: keyPairSigner(keys) };
  }
  const keys = await generateKeyPair('rsa-2048');
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 5 * 60 * 1000);
  const certDer = buildCertificate(
    {
      subject: SUBJECT,
      spkiDer: spkiDer(keys.publicKey),
      serial: randomSerial(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + VALIDITY_MS),
      isCa: false,
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      eku: [],
    },
    keyPairSigner(keys),
    'sha256',
  );
  await writeFileAtomic(pathIn(dir, UpstreamFiles.key), privateKeyToPem(keys.privateKey), 0o600);
  await writeFileAtomic(pathIn(dir, UpstreamFiles.cert), toPem('CERTIFICATE', certDer), 0o600);
  return { certDer, privateKey: keys.privateKey, signer: keyPairSigner(keys) };
}

export async function loadCachedCaCerts(dir: string): Promise<Buffer[] | undefined> {
  const pem = await readIfExists(pathIn(dir, UpstreamFiles.caCerts));
  if (!pem) return undefined;
  const certs = pemBlocks(pem.toString('utf8'))
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
  return certs.length > 0 ? certs : undefined;
}

export async function saveCachedCaCerts(dir: string, certsDer: Buffer[]): Promise<void> {
  const pem = certsDer.map((der) => toPem('CERTIFICATE', der)).join('');
  await writeFileAtomic(pathIn(dir, UpstreamFiles.caCerts), pem, 0o600);
}
