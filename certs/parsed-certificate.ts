import { createHash, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { verifySignature } from './algorithms.js';
import { childrenOf, decodeDer, encodedBytes, isContextTag, toBuffer } from './asn1.js';
import type { DistinguishedName, SubjectAltNames } from './csr.js';
import {
  decodeBasicConstraints,
  decodeExtensions,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  decodeSubjectKeyIdentifier,
  type Extension,
  emptySans,
} from './extensions.js';
import { nameFromAsn1 } from './name.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key-cache.js';

/**
 * What the rest of the appliance needs from an X.509 certificate. Parse the CA certificate once and
 * keep this object: issuance reads `subject.der`, `ski` and `notAfter` from it on every request.
 */
export interface ParsedCertificate {
  der: Buffer;
  subject: DistinguishedName;
  issuer: DistinguishedName;
  /** Lower-case hex of the INTEGER content octets. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  publicKey: KeyObject;
  /** subjectKeyIdentifier extension, or SHA-1 of the public key bits when absent (RFC 5280 §4.2.1.2). */
  ski: Buffer;
  isCa: boolean;
  pathLen?: number;
  sans: SubjectAltNames;
  keyUsage: string[];
  eku: string[];
  extensions: Extension[];
  /** For signature checks against an issuer key. */
  tbsDer: Buffer;
  signatureAlgorithm: asn1js.AsnType;
  signature: Buffer;
}

/** Certificates bigger than this are not something we issue or accept as a CA. */
const MAX_CERT_BYTES = 64 * 1024;

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  if (der.byteLength > MAX_CERT_BYTES) throw new DecodeError('certificate too large');
  try {
    return parseUnchecked(der);
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError('malformed certificate', { cause: e });
  }
}

/** RFC 5280 §4.1. */
function parseUnchecked(der: Uint8Array): ParsedCertificate {
  const [tbs, signatureAlgorithm, signatureBits, ...extra] = childrenOf(
    decodeDer(der, 'Certificate'),
    'Certificate',
  );
  if (!(signatureBits instanceof asn1js.BitString) || !signatureAlgorithm || extra.length > 0) {
    throw new DecodeError('Certificate: malformed');
  }
  const fields = childrenOf(tbs, 'TBSCertificate');
  if (isContextTag(fields[0], 0)) fields.shift(); // version; we accept v1–v3 alike
  const [serial, , issuer, validity, subject, spki, ...optional] = fields;
  if (!(serial instanceof asn1js.Integer) || !issuer || !subject || !spki) {
    throw new DecodeError('TBSCertificate: malformed');
  }
  const [notBefore, notAfter] = childrenOf(validity, 'Validity').map(decodeTime);
  const extensionsBlock = optional.find((b) => isContextTag(b, 3));
  const extensions = extensionsBlock ? decodeExtensions(childrenOf(extensionsBlock, 'extensions')[0]!) : [];
  const spkiDer = encodedBytes(spki);
  return {
    der: toBuffer(der),
    subject: nameFromAsn1(subject),
    issuer: nameFromAsn1(issuer),
    serialHex: toBuffer(serial.valueBlock.valueHexView).toString('hex'),
    notBefore: notBefore!,
    notAfter: notAfter!,
    spkiDer,
    publicKey: publicKeyFromSpki(spkiDer),
    ...extensionFacts(extensions, spkiDer),
    extensions,
    tbsDer: encodedBytes(tbs!),
    signatureAlgorithm,
    signature: toBuffer(signatureBits.valueBlock.valueHexView),
  };
}

function decodeTime(block: asn1js.AsnType): Date {
  if (block instanceof asn1js.UTCTime || block instanceof asn1js.GeneralizedTime) return block.toDate();
  throw new DecodeError('Validity: not a time');
}

type ExtensionFacts = Pick<ParsedCertificate, 'ski' | 'isCa' | 'pathLen' | 'sans' | 'keyUsage' | 'eku'>;

function extensionFacts(extensions: Extension[], spkiDer: Buffer): ExtensionFacts {
  const facts: ExtensionFacts = {
    ski: Buffer.alloc(0),
    isCa: false,
    sans: emptySans(),
    keyUsage: [],
    eku: [],
  };
  for (const ext of extensions) {
    if (ext.oid === Oid.subjectKeyIdentifier) facts.ski = decodeSubjectKeyIdentifier(ext.value);
    else if (ext.oid === Oid.basicConstraints) Object.assign(facts, decodeBasicConstraints(ext.value));
    else if (ext.oid === Oid.subjectAltName) facts.sans = decodeSubjectAltNames(ext.value);
    else if (ext.oid === Oid.keyUsage) facts.keyUsage = decodeKeyUsage(ext.value);
    else if (ext.oid === Oid.extKeyUsage) facts.eku = decodeExtKeyUsage(ext.value);
  }
  if (facts.ski.length === 0) facts.ski = keyIdentifier(spkiDer);
  return facts;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value (no tag, length, unused bits). */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  const [, keyBits] = childrenOf(decodeDer(spkiDer, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  if (!(keyBits instanceof asn1js.BitString)) throw new DecodeError('SPKI: key is not a BIT STRING');
  return createHash('sha1').update(keyBits.valueBlock.valueHexView).digest();
}

/** Whether `cert` carries a valid signature by `issuerKey`. */
export function isSignedBy(cert: ParsedCertificate, issuerKey: KeyObject): boolean {
  return verifySignature(cert.signatureAlgorithm, cert.tbsDer, cert.signature, issuerKey);
}

/** SHA-256 of the DER, lower-case hex (the inventory's thumbprint). */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
