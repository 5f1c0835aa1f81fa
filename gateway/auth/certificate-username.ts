import { Oid } from '../../certs/oids.js';
import type { ParsedCertificate } from '../../certs/parsed-certificate.js';

/** Where the username comes from: ocserv's cert-user-oid choices plus the UPN and email SANs. */
export type CertificateUsernameSource = 'cn' | 'uid' | 'upn' | 'email';

/** The most specific (last-encoded) value of a subject attribute (RFC 5280 §4.1.2.6). */
export function subjectValues(cert: ParsedCertificate, oid: string): string[] {
  return cert.subject.rdns
    .flat()
    .filter((a) => a.oid === oid)
    .map((a) => a.value);
}

export function certificateUsername(
  cert: ParsedCertificate,
  from: CertificateUsernameSource,
): string | undefined {
  switch (from) {
    case 'cn':
      return subjectValues(cert, Oid.commonName).at(-1);
    case 'uid':
      return subjectValues(cert, Oid.userId).at(-1);
    case 'upn':
      return cert.sans.upn[0];
    case 'email':
      // RFC 5280 §4.2.1.6: rfc822Name SAN; the legacy emailAddress attribute only as a fallback.
      return cert.sans.email[0] ?? subjectValues(cert, Oid.emailAddress).at(-1);
  }
}
