import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  buildCertificate,
  type ParsedCertificate,
  parseCertificate,
  randomSerial,
} from '../../certs/certificate.js';
import type { SubjectAltNames } from '../../certs/csr.js';
import {
  generateKeyPair,
  type KeyPair,
  keyPairSigner,
  loadPrivateKey,
  privateKeyToPem,
  spkiDer,
} from '../../certs/keys.js';
import { firstDer, toPem } from '../../certs/pem.js';
import type { Signer } from '../../certs/signer.js';
import { readIfExists, writeFileAtomic } from '../files.js';

const DAY_MS = 24 * 3600 * 1000;
const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 90;
/** Backdating absorbs clock skew between the cloud and a just-enrolled appliance. */
const BACKDATE_MS = 5 * 60 * 1000;

export const CloudCaFiles = {
  caCert: 'ca.pem',
  caKey: 'ca.key',
  serverCert: 'server.pem',
  serverKey: 'server.key',
} as const;

export interface IssuedCertificate {
  der: Buffer;
  pem: string;
  serialHex: string;
  notAfter: Date;
}

function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** The TLS server's names: localhost and 127.0.0.1 always, plus the host it listens on. */
function serverSans(hosts: readonly string[]): SubjectAltNames {
  const sans: SubjectAltNames = { dns: ['localhost'], email: [], uri: [], ip: ['127.0.0.1', '::1'], upn: [] };
  for (const host of hosts) {
    if (host === '0.0.0.0' || host === '::') continue;
    const list = isIP(host) ? sans.ip : sans.dns;
    if (!list.includes(host)) list.push(host);
  }
  return sans;
}

/**
 * The cloud's own CA (ECDSA P-256): it signs the HTTPS server certificate and the appliances' link
 * client certificates. Created on first start in the data directory; `ca.pem` is what
 * `outpost enroll --cloud-ca` trusts.
 */
export class CloudCa {
  private constructor(
    readonly cert: ParsedCertificate,
    private readonly signer: Signer,
    readonly server: { certPem: string; keyPem: string },
  ) {}

  get caPem(): string {
    return toPem('CERTIFICATE', this.cert.der);
  }

  static async open(dir: string, hosts: readonly string[], now: Date): Promise<CloudCa> {
    const ca = await loadOrCreateCa(dir, now);
    // The server certificate is re-issued at every start: cheap, and it follows --listen changes.
    const serverKeys = await generateKeyPair('ec-p256');
    const serverDer = buildCertificate(
      {
        subject: 'CN=Outpost Cloud',
        spkiDer: spkiDer(serverKeys.publicKey),
        issuer: ca.cert,
        serial: randomSerial(),
        notBefore: wholeSecond(new Date(now.getTime() - BACKDATE_MS)),
        notAfter: wholeSecond(new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS)),
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['serverAuth'],
        sans: serverSans(hosts),
      },
      ca.signer,
      'sha256',
    );
    const server = {
      certPem: toPem('CERTIFICATE', serverDer),
      keyPem: privateKeyToPem(serverKeys.privateKey),
    };
    await writeFileAtomic(join(dir, CloudCaFiles.serverKey), server.keyPem, 0o600);
    await writeFileAtomic(join(dir, CloudCaFiles.serverCert), server.certPem, 0o644);
    return new CloudCa(ca.cert, ca.signer, server);
  }

  /**
   * A link client certificate: CN = appliance id (whatever the CSR's subject says), clientAuth only,
   * `validityDays` short so that renewal over the link (`renew` → `renewed`) is exercised.
   */
  issueClientCertificate(
    spki: Buffer,
    applianceId: string,
    validityDays: number,
    now: Date,
  ): IssuedCertificate {
    const serial = randomSerial();
    const notAfter = wholeSecond(new Date(now.getTime() + validityDays * DAY_MS));
    const der = buildCertificate(
      {
        subject: `CN=${applianceId}`, // ids are UUIDs: nothing to escape (RFC 4514)
        spkiDer: spki,
        issuer: this.cert,
        serial,
        notBefore: wholeSecond(new Date(now.getTime() - BACKDATE_MS)),
        notAfter,
        isCa: false,
        keyUsage: ['digitalSignature'],
        eku: ['clientAuth'],
      },
      this.signer,
      'sha256',
    );
    const parsed = parseCertificate(der);
    return { der, pem: toPem('CERTIFICATE', der), serialHex: parsed.serialHex, notAfter };
  }
}

async function loadOrCreateCa(dir: string, now: Date): Promise<{ cert: ParsedCertificate; signer: Signer }> {
  const certPem = await readIfExists(join(dir, CloudCaFiles.caCert));
  const keyPem = await readIfExists(join(dir, CloudCaFiles.caKey));
  if (certPem && keyPem) {
    const keys = loadPrivateKey(keyPem);
    return {
      cert: parseCertificate(firstDer(certPem.toString(), 'CERTIFICATE')),
      signer: keyPairSigner(keys),
    };
  }
  const keys: KeyPair = await generateKeyPair('ec-p256');
  const notBefore = wholeSecond(new Date(now.getTime() - BACKDATE_MS));
  const der = buildCertificate(
    {
      subject: 'CN=Outpost Cloud CA',
      spkiDer: spkiDer(keys.publicKey),
      serial: randomSerial(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
      isCa: true,
      pathLen: 0,
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      eku: [],
    },
    keyPairSigner(keys),
    'sha256',
  );
  // Key first: a crash between the two writes leaves no certificate without its key.
  await writeFileAtomic(join(dir, CloudCaFiles.caKey), privateKeyToPem(keys.privateKey), 0o600);
  await writeFileAtomic(join(dir, CloudCaFiles.caCert), toPem('CERTIFICATE', der), 0o644);
  return { cert: parseCertificate(der), signer: keyPairSigner(keys) };
}
