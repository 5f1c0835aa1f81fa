import { execFileSync } from 'node:child_process';

/**
 * The RSA-2048 private-key operations one enrollment (PKCSReq → SUCCESS CertRep with the
 * built-in CA) costs on the server, as the code does them:
 * 1. the RA decrypts the content key of the request's envelope (certs/cms/rsa-key-transport.ts:
 *    privateDecrypt with RSA_NO_PADDING, then the PKCS#1 v1.5 padding checked in constant time);
 * 2. the CA signs the certificate (connector/ca/builtin/builtin-ca.ts → certs/certificate.ts);
 * 3. the RA signs the CertRep's SignedData (connector/scep/codec/encode-cert-rep.ts →
 *    certs/cms/build-signed-data.ts).
 * The rest is public-key work (verifying the request's and the CSR's signatures, encrypting the
 * reply's content key to the device), a few percent of one private operation each.
 */
export const PRIVATE_OPERATIONS_PER_ENROLLMENT = 3;

/**
 * Milliseconds of one core for those three operations on this machine now: `openssl speed
 * -seconds 2 rsa2048` (one process, CPU time), sign/s → 3 × 1000 / sign/s.
 */
export function rsaMsPerEnrollment(): { signPerSecond: number; ms: number } {
  const out = execFileSync('openssl', ['speed', '-seconds', '2', 'rsa2048'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // "rsa 2048 bits 0.000282s 0.000016s   3549.3  62819.5": sign s, verify s, sign/s, verify/s
  const row = /^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+[\d.]+\s*$/m.exec(out);
  if (!row) throw new Error(`openssl speed: no rsa 2048 row in:\n${out}`);
  const signPerSecond = Number(row[1]);
  return { signPerSecond, ms: (PRIVATE_OPERATIONS_PER_ENROLLMENT * 1000) / signPerSecond };
}
