import { randomBytes } from 'node:crypto';
import { signatureAlgorithmDer } from './algorithms.js';
import { derBitString, derPositiveInteger, derSequence, derTime, derTlv, Tag } from './asn1.js';
import type { DistinguishedName, SubjectAltNames } from './csr.js';
import {
  type Extension,
  emptySans,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeCrlDistributionPoint,
  encodeExtensionDer,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeOcspAccess,
  encodeSubjectAltNames,
  encodeSubjectKeyIdentifier,
  hasSans,
} from './extensions.js';
import { nameFromDer, parseDn } from './name.js';
import { Oid } from './oids.js';
import { keyIdentifier, type ParsedCertificate, parseCertificate } from './parsed-certificate.js';
import type { HashName, Signer } from './signer.js';

export {
  certificateThumbprint,
  isSignedBy,
  keyIdentifier,
  type ParsedCertificate,
  parseCertificate,
} from './parsed-certificate.js';

export interface CertificateTemplate {
  /** RFC 4514 text, a parsed name, or the DER of a Name (e.g. straight from a CSR). */
  subject: string | DistinguishedName | Uint8Array;
  spkiDer: Uint8Array;
  /**
   * The issuing CA, parsed once by the caller (hot path), or its DER. Absent = self-signed:
   * issuer = subject and AKI = own SKI.
   */
  issuer?: ParsedCertificate | Uint8Array;
  /** Big-endian magnitude; encoded as a positive INTEGER. */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  pathLen?: number;
  keyUsage: string[];
  /** EKU names or dotted OIDs. */
  eku: string[];
  sans?: SubjectAltNames;
  crlDistributionPoint?: string;
  ocspUrl?: string;
  /**
   * Further extensions, written after the standard ones (e.g. the SID strong mapping,
   * certs/sid-extension.ts). An OID this builder already writes is refused: RFC 5280 §4.2 allows
   * each extension once.
   */
  extraExtensions?: Extension[];
}

/**
 * Builds the TBSCertificate (RFC 5280 §4.1), signs it once with `signer` and returns the DER.
 * Everything is written straight into buffers (no asn1js objects): this runs once per enrollment
 * and should cost little beside the one signature.
 */
export function buildCertificate(t: CertificateTemplate, signer: Signer, hash: HashName): Buffer {
  const subject = subjectName(t.subject);
  const issuer = issuerOf(t.issuer);
  const ski = keyIdentifier(t.spkiDer);
  const algorithm = signatureAlgorithmDer(signer.keyType, hash);
  const tbs = derSequence(
    derTlv(Tag.context(0), derPositiveInteger(Uint8Array.of(2))), // v3
    derPositiveInteger(t.serial),
    algorithm,
    issuer?.subject.der ?? subject.der,
    derSequence(derTime(t.notBefore), derTime(t.notAfter)),
    subject.der,
    t.spkiDer,
    derTlv(
      Tag.context(3),
      derSequence(...extensions(t, subject, ski, issuer?.ski ?? ski).map(encodeExtensionDer)),
    ),
  );
  return derSequence(tbs, algorithm, derBitString(signer.sign(tbs, hash)));
}

function subjectName(subject: CertificateTemplate['subject']): DistinguishedName {
  if (typeof subject === 'string') return parseDn(subject);
  if (subject instanceof Uint8Array) return nameFromDer(subject);
  return subject;
}

function issuerOf(issuer: CertificateTemplate['issuer']): ParsedCertificate | undefined {
  return issuer instanceof Uint8Array ? parseCertificate(issuer) : issuer;
}

/** Extensions in the order OpenSSL writes them; criticality per RFC 5280 §4.2.1. */
function extensions(
  t: CertificateTemplate,
  subject: DistinguishedName,
  ski: Buffer,
  aki: Buffer,
): Extension[] {
  const sans = t.sans ?? emptySans();
  const out: Extension[] = [
    // §4.2.1.9: MUST be critical in CA certificates; we mark it critical for all, as the brief's profile does.
    { oid: Oid.basicConstraints, critical: true, value: encodeBasicConstraints(t.isCa, t.pathLen) },
  ];
  if (t.keyUsage.length > 0)
    out.push({ oid: Oid.keyUsage, critical: true, value: encodeKeyUsage(t.keyUsage) });
  if (t.eku.length > 0) out.push({ oid: Oid.extKeyUsage, critical: false, value: encodeExtKeyUsage(t.eku) });
  out.push({ oid: Oid.subjectKeyIdentifier, critical: false, value: encodeSubjectKeyIdentifier(ski) });
  out.push({ oid: Oid.authorityKeyIdentifier, critical: false, value: encodeAuthorityKeyIdentifier(aki) });
  if (hasSans(sans)) {
    // §4.2.1.6: critical when the subject is an empty sequence.
    out.push({
      oid: Oid.subjectAltName,
      critical: subject.rdns.length === 0,
      value: encodeSubjectAltNames(sans),
    });
  }
  if (t.crlDistributionPoint) {
    out.push({
      oid: Oid.crlDistributionPoints,
      critical: false,
      value: encodeCrlDistributionPoint(t.crlDistributionPoint),
    });
  }
  if (t.ocspUrl)
    out.push({ oid: Oid.authorityInfoAccess, critical: false, value: encodeOcspAccess(t.ocspUrl) });
  for (const extra of t.extraExtensions ?? []) {
    if (out.some((e) => e.oid === extra.oid)) throw new Error(`extension ${extra.oid} given twice`);
    out.push(extra);
  }
  return out;
}

/**
 * 16 random bytes (RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B BR §7.1: ≥64 bits of entropy):
 * top bit cleared so the INTEGER is positive without a pad byte, first byte nonzero so the encoding is
 * minimal and every serial has the same length.
 */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f || 0x01;
  return serial;
}

/** Hex as stored in the inventory: the DER INTEGER content octets, lower case. */
export function serialHex(serial: Uint8Array): string {
  const integer = derPositiveInteger(serial);
  return integer.subarray(2).toString('hex');
}
