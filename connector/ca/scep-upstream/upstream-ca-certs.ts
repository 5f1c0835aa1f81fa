import {
  certificateThumbprint,
  isSignedBy,
  type ParsedCertificate,
  parseCertificate,
} from '../../../certs/certificate.js';
import { decodeSignedData } from '../../../certs/cms/index.js';
import { DecodeError, ErrorCodes, OutpostError } from '../../../core/errors.js';

/** What an upstream SCEP CA's GetCACert answer tells the RA. */
export interface UpstreamCaCerts {
  /** Every certificate GetCACert returned: only these may sign a CertRep (RFC 8894 §3.3.2). */
  all: Buffer[];
  /** The certificate requests are encrypted to (RFC 8894 §2.2: the RA's if there is one). */
  recipient: Buffer;
  /** The CA certificates, issuing CA first: what devices get to verify their certificate. */
  chain: Buffer[];
}

/** GetCACert answers are one certificate or a degenerate PKCS#7 of a few; anything bigger is refused. */
export const MAX_CA_CERT_RESPONSE_BYTES = 256 * 1024;
const MAX_CERTS = 16;

function isKeyEncipherer(cert: ParsedCertificate): boolean {
  // A certificate without keyUsage allows every use (RFC 5280 §4.2.1.3)
  return cert.keyUsage.length === 0 || cert.keyUsage.includes('keyEncipherment');
}

/**
 * RFC 8894 §4.2.1: `application/x-x509-ca-cert` is one DER certificate (micromdm scepserver, whose
 * CA is its own RA); `application/x-x509-ca-ra-cert` a degenerate certs-only SignedData holding the
 * RA and the CA chain. The body is judged by its content, not only by the content type.
 */
export function readCaCertResponse(body: Uint8Array): Buffer[] {
  if (body.length === 0) throw new DecodeError('empty GetCACert answer');
  if (body.length > MAX_CA_CERT_RESPONSE_BYTES) throw new DecodeError('GetCACert answer too large');
  try {
    return [parseCertificate(body).der];
  } catch {
    // not a single certificate: a certs-only SignedData then
  }
  const certs = decodeSignedData(body, { maxBytes: MAX_CA_CERT_RESPONSE_BYTES }).certificates;
  if (certs.length === 0) throw new DecodeError('GetCACert answer holds no certificate');
  if (certs.length > MAX_CERTS) throw new DecodeError('GetCACert answer holds too many certificates');
  return certs;
}

/** Issuing CA first: each next certificate is the issuer of the one before, as far as the set goes. */
function orderChain(cas: ParsedCertificate[]): ParsedCertificate[] {
  const isIssuerOfAnother = (c: ParsedCertificate) =>
    cas.some((o) => o !== c && o.issuer.der.equals(c.subject.der));
  const ordered: ParsedCertificate[] = [];
  let cur = cas.find((c) => !isIssuerOfAnother(c)) ?? cas[0];
  while (cur && !ordered.includes(cur)) {
    ordered.push(cur);
    const issuerDer = cur.issuer.der;
    cur = cas.find((c) => !ordered.includes(c) && c.subject.der.equals(issuerDer));
  }
  return [...ordered, ...cas.filter((c) => !ordered.includes(c))];
}

/**
 * With `pinnedSha256`, GetCACert (plain HTTP, RFC 8894 §3.1) is trusted only if it contains that
 * certificate and every other certificate chains to it inside the set: a man in the middle could
 * otherwise hand the RA a recipient of its own and read every forwarded CSR.
 */
function checkPin(certs: ParsedCertificate[], pinnedSha256: string): void {
  const pin = pinnedSha256.replace(/[:\s]/g, '').toLowerCase();
  const pinned = certs.find((c) => certificateThumbprint(c.der) === pin);
  if (!pinned) {
    throw new OutpostError(
      ErrorCodes.badSignature,
      'the upstream CA certificate does not match the pinned fingerprint',
    );
  }
  const trusted = new Set([pinned]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of certs) {
      if (trusted.has(c)) continue;
      if ([...trusted].some((t) => t.subject.der.equals(c.issuer.der) && isSignedBy(c, t.publicKey))) {
        trusted.add(c);
        grew = true;
      }
    }
  }
  if (trusted.size !== certs.length) {
    throw new OutpostError(
      ErrorCodes.badSignature,
      'a certificate from the upstream GetCACert does not chain to the pinned CA certificate',
    );
  }
}

/**
 * Sorts GetCACert's certificates into the recipient (a non-CA certificate allowed to encipher
 * keys: the RA; otherwise the CA itself, as micromdm scepserver does) and the CA chain.
 */
export function upstreamCaCerts(certsDer: Buffer[], pinnedSha256?: string): UpstreamCaCerts {
  const certs = certsDer.map((der) => parseCertificate(der));
  if (certs.length === 0) throw new DecodeError('GetCACert answer holds no certificate');
  if (pinnedSha256) checkPin(certs, pinnedSha256);
  const cas = certs.filter((c) => c.isCa);
  const ra = certs.find((c) => !c.isCa && isKeyEncipherer(c) && c.publicKey.asymmetricKeyType === 'rsa');
  const recipient = ra ?? cas.find((c) => c.publicKey.asymmetricKeyType === 'rsa');
  if (!recipient) {
    throw new OutpostError(
      ErrorCodes.unsupportedAlgorithm,
      'the upstream SCEP CA offers no RSA certificate to encrypt to',
    );
  }
  const chain = orderChain(cas.length > 0 ? cas : [recipient]);
  return { all: certs.map((c) => c.der), recipient: recipient.der, chain: chain.map((c) => c.der) };
}
