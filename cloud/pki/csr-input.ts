import { parseCsr } from '../../certs/csr.js';
import { firstDer } from '../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

const MAX_CSR_PEM = 64 * 1024;

function badCsr(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.badRequest, `invalid CSR: ${detail}`, { cause });
}

/**
 * The public key of an appliance's CSR (enrollment or renewal), after checking its proof of
 * possession (the self-signature, RFC 2986 §3) and that the key is one the link accepts: ECDSA
 * P-256/P-384 or RSA ≥ 2048. The subject is ignored: the cloud names the certificate.
 */
export function spkiFromCsrPem(pem: string): Buffer {
  if (pem.length > MAX_CSR_PEM) throw badCsr('too large');
  let der: Buffer;
  try {
    der = firstDer(pem, 'CERTIFICATE REQUEST');
  } catch (e) {
    throw badCsr('expected a PEM CERTIFICATE REQUEST', e);
  }
  let csr: ReturnType<typeof parseCsr>;
  try {
    csr = parseCsr(der);
  } catch (e) {
    throw badCsr('malformed', e);
  }
  if (!csr.signatureValid) throw badCsr('signature does not verify');
  const ecOk = csr.keyType === 'ec' && (csr.curve === 'P-256' || csr.curve === 'P-384');
  const rsaOk = csr.keyType === 'rsa' && csr.keyBits >= 2048 && csr.keyBits <= 8192;
  if (!ecOk && !rsaOk) throw badCsr('key must be ECDSA P-256/P-384 or RSA 2048-8192');
  return csr.spkiDer;
}
