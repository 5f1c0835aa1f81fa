import { isSignedBy, type ParsedCertificate, parseCertificate } from '../../certs/certificate.js';
import { Oid } from '../../certs/oids.js';

export type ClientCheck =
  | { ok: true; applianceId: string; cert: ParsedCertificate }
  | { ok: false; reason: string };

/**
 * Checks a link client certificate beyond what TLS verified: signed by the cloud CA (not merely by
 * something in a default trust store), within its validity, for clientAuth, with one CN — the
 * appliance id. Whether that appliance is enrolled and not revoked is the caller's check.
 */
export function checkLinkClientCertificate(der: Uint8Array, ca: ParsedCertificate, now: Date): ClientCheck {
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(der);
  } catch {
    return { ok: false, reason: 'unreadable client certificate' };
  }
  if (!cert.issuer.der.equals(ca.subject.der) || !isSignedBy(cert, ca.publicKey)) {
    return { ok: false, reason: 'client certificate not issued by the cloud CA' };
  }
  if (now < cert.notBefore || now > cert.notAfter) return { ok: false, reason: 'client certificate expired' };
  if (cert.isCa || !cert.eku.includes('clientAuth')) {
    return { ok: false, reason: 'client certificate not for clientAuth' };
  }
  const cns = cert.subject.rdns.flat().filter((a) => a.oid === Oid.commonName);
  if (cns.length !== 1) return { ok: false, reason: 'client certificate must have exactly one CN' };
  return { ok: true, applianceId: cns[0]!.value, cert };
}
