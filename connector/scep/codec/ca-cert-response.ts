import { buildDegenerateCertsOnly } from '../../../certs/cms/index.js';

export interface CaCertResponse {
  body: Buffer;
  contentType: 'application/x-x509-ca-cert' | 'application/x-x509-ca-ra-cert';
}

/**
 * The GetCACert response (RFC 8894 §4.2.1): one certificate as plain DER, several (RA first, then
 * the CA chain) as a degenerate certs-only PKCS#7.
 */
export function encodeCaCertResponse(certsDer: readonly Uint8Array[]): CaCertResponse {
  if (certsDer.length === 1)
    return { body: Buffer.from(certsDer[0]!), contentType: 'application/x-x509-ca-cert' };
  return { body: buildDegenerateCertsOnly([...certsDer]), contentType: 'application/x-x509-ca-ra-cert' };
}
