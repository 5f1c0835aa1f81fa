import { createHash, sign, verify } from 'node:crypto';
import {
  buildCertificate,
  type CertificateTemplate,
  parseCertificate,
  randomSerial,
} from '../../certs/certificate.js';
import { buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair, keyPairSigner, spkiDer } from '../../certs/keys.js';
import type { Signer } from '../../certs/signer.js';

/**
 * `npm run bench:certs`: microseconds per call of the certs/ functions on the SCEP issuance path,
 * with an RSA-2048 CA and an RSA-2048 device key (what scepclient sends). The RSA operations are
 * printed on their own (raw node:crypto sign/verify), and buildCertificate is also timed with a
 * signer that returns a fixed signature, so that the codec cost can be read without the RSA cost.
 */
const DAY = 24 * 3600 * 1000;

/** Best of five rounds: the machine is shared, and the minimum is the least disturbed figure. */
function timeUs(iterations: number, body: () => unknown): number {
  for (let i = 0; i < Math.min(iterations, 500); i++) body(); // warm up the JIT and the key cache
  let best = Number.POSITIVE_INFINITY;
  const perRound = Math.max(1, Math.floor(iterations / 5));
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) body();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000 / perRound);
  }
  return best;
}

const [ca, device] = await Promise.all([generateKeyPair('rsa-2048'), generateKeyPair('rsa-2048')]);
const caSigner = keyPairSigner(ca);
const caDer = buildCertificate(
  {
    subject: 'CN=Outpost Bench CA,O=Outpost,C=US',
    spkiDer: spkiDer(ca.publicKey),
    serial: randomSerial(),
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 3650 * DAY),
    isCa: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
    eku: [],
  },
  caSigner,
  'sha256',
);
const caCert = parseCertificate(caDer);

const csrDer = buildCsr('CN=device-0001,OU=Devices,O=Example Corp,C=US', device, {
  hash: 'sha256',
  challengePassword: 'bench-challenge-secret',
  sans: { dns: ['device-0001.corp.test'], upn: ['user@corp.test'], ip: ['192.0.2.7'] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  eku: ['clientAuth'],
});
const csr = parseCsr(csrDer);

const template = (): CertificateTemplate => ({
  subject: csr.subject.der,
  spkiDer: csr.spkiDer,
  issuer: caCert,
  serial: randomSerial(),
  notBefore: new Date(),
  notAfter: new Date(Date.now() + 365 * DAY),
  isCa: false,
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  eku: ['clientAuth'],
  sans: { ...csr.sans },
  crlDistributionPoint: 'http://outpost.corp.test/crl.der',
  ocspUrl: 'http://outpost.corp.test/ocsp',
});
const leafDer = buildCertificate(template(), caSigner, 'sha256');

const fixedSignature = createHash('sha512').update('bench').digest();
const nullSigner: Signer = { keyType: 'rsa', publicKey: ca.publicKey, sign: () => fixedSignature };
const tbs = parseCertificate(leafDer).tbsDer;
const signature = sign('sha256', tbs, ca.privateKey);

const rows: Array<[string, number]> = [
  ['parseCsr (RSA-2048, incl. verify)', timeUs(5000, () => parseCsr(csrDer))],
  ['parseCertificate (leaf)', timeUs(5000, () => parseCertificate(leafDer))],
  ['parseCertificate (CA)', timeUs(5000, () => parseCertificate(caDer))],
  ['buildCertificate (no-op signer)', timeUs(5000, () => buildCertificate(template(), nullSigner, 'sha256'))],
  ['buildCertificate (RSA-2048 CA)', timeUs(1000, () => buildCertificate(template(), caSigner, 'sha256'))],
  ['node:crypto sign RSA-2048 sha256', timeUs(1000, () => sign('sha256', tbs, ca.privateKey))],
  ['node:crypto verify RSA-2048 sha256', timeUs(5000, () => verify('sha256', tbs, ca.publicKey, signature))],
];
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, us] of rows) console.log(`${name.padEnd(width)}  ${us.toFixed(1).padStart(8)} µs`);
