import { createHash, type KeyObject } from 'node:crypto';
import type * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { verifySignature } from './algorithms.js';
import { decodeDer, toBuffer } from './asn1.js';
import type { DistinguishedName, SubjectAltNames } from './csr.js';
import { type AsnNode, bitStringValue, contentOf, isContextTag, isUniversal, rawDer } from './der-reader.js';
import { timeValue } from './der-time.js';
import {
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  decodeSubjectKeyIdentifier,
  type Extension,
  emptySans,
  extensionsFromNode,
} from './extensions.js';
import { nameFromNode } from './name-from-der.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki } from './public-key-cache.js';
import { childNodes, decodeX509Der } from './x509-der.js';

const INTEGER = 2;
const BIT_STRING = 3;

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

export interface ParseCertificateOptions {
  /**
   * `lazy`: the public key is imported on first read of `publicKey` (its errors surface there),
   * for callers that may never need it: OpenSSL 3 imports an SPKI through its decoder chain,
   * ~0.1-0.3 ms for each key not in the memo (public-key-cache.ts), more than the rest of the
   * parse. Default `eager`: imported here, a key OpenSSL refuses fails the parse.
   */
  publicKey?: 'eager' | 'lazy';
}

export function parseCertificate(der: Uint8Array, options: ParseCertificateOptions = {}): ParsedCertificate {
  if (der.byteLength > MAX_CERT_BYTES) throw new DecodeError('certificate too large');
  try {
    return parseUnchecked(der, options.publicKey === 'lazy');
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError('malformed certificate', { cause: e });
  }
}

/**
 * RFC 5280 §4.1, read with the zero-copy DER reader: asn1js cost about a millisecond per
 * certificate here, as much as the RSA signature of the certificate being issued. The input is
 * copied once so that what we return does not change when the caller reuses its buffer.
 */
function parseUnchecked(der: Uint8Array, lazyKey: boolean): ParsedCertificate {
  const [tbs, signatureAlgorithm, signatureBits, ...extra] = childNodes(
    decodeX509Der(Buffer.from(der), 'Certificate'),
    'Certificate',
  );
  if (!isUniversal(signatureBits, BIT_STRING) || !signatureAlgorithm || extra.length > 0) {
    throw new DecodeError('Certificate: malformed');
  }
  const fields = childNodes(tbs, 'TBSCertificate').slice();
  if (isContextTag(fields[0], 0)) fields.shift(); // version; we accept v1–v3 alike
  const [serial, , issuer, validity, subject, spki, ...optional] = fields;
  if (!isUniversal(serial, INTEGER) || !issuer || !subject || !spki) {
    throw new DecodeError('TBSCertificate: malformed');
  }
  const [notBefore, notAfter, ...more] = childNodes(validity, 'Validity');
  if (more.length > 0) throw new DecodeError('Validity: malformed');
  const extensionsField = optional.find((node) => isContextTag(node, 3));
  // extensions [3] EXPLICIT Extensions (§4.1.2.9)
  const extensions = extensionsField ? extensionsFromNode(childNodes(extensionsField, 'extensions')[0]) : [];
  const spkiDer = rawDer(spki);
  const algorithmDer = rawDer(signatureAlgorithm);
  let algorithmBlock: asn1js.AsnType | undefined;
  let publicKey = lazyKey ? undefined : publicKeyFromSpki(spkiDer);
  const facts = extensionFacts(extensions, spkiDer);
  // Every field written out, none spread in: a spread in the middle of a literal with accessors
  // made V8 copy the facts property by property at run time (issue 16: the leaf of each login).
  const cert: ParsedCertificate = {
    der: toBuffer(der),
    subject: nameFromNode(subject),
    issuer: nameFromNode(issuer),
    serialHex: primitiveBytes(serial, 'serialNumber').toString('hex'),
    notBefore: timeValue(notBefore, 'notBefore'),
    notAfter: timeValue(notAfter, 'notAfter'),
    spkiDer,
    get publicKey(): KeyObject {
      publicKey ??= publicKeyFromSpki(spkiDer);
      return publicKey;
    },
    ski: facts.ski,
    isCa: facts.isCa,
    sans: facts.sans,
    keyUsage: facts.keyUsage,
    eku: facts.eku,
    extensions,
    tbsDer: rawDer(tbs!),
    // asn1js form kept for the exported type; built on first use only (isSignedBy, callers).
    get signatureAlgorithm(): asn1js.AsnType {
      algorithmBlock ??= decodeDer(algorithmDer, 'signatureAlgorithm');
      return algorithmBlock;
    },
    signature: signatureValue(signatureBits),
  };
  if (facts.pathLen !== undefined) cert.pathLen = facts.pathLen; // absent, as before, when unset
  return cert;
}

/** INTEGER contents as encoded; asn1js accepted an empty INTEGER as a serial, so do we. */
function primitiveBytes(node: AsnNode, what: string): Buffer {
  if (node.constructed) throw new DecodeError(`${what}: expected a primitive element`);
  return contentOf(node);
}

/** signatureValue BIT STRING (§4.1.1.3): the octets after the unused-bits count. */
function signatureValue(node: AsnNode): Buffer {
  return bitStringValue(node, 'signatureValue').bytes;
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
  const [, keyBits] = childNodes(decodeX509Der(spkiDer, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  if (!isUniversal(keyBits, BIT_STRING)) throw new DecodeError('SPKI: key is not a BIT STRING');
  return createHash('sha1').update(bitStringValue(keyBits, 'subjectPublicKey').bytes).digest();
}

/** Whether `cert` carries a valid signature by `issuerKey`. */
export function isSignedBy(cert: ParsedCertificate, issuerKey: KeyObject): boolean {
  return verifySignature(cert.signatureAlgorithm, cert.tbsDer, cert.signature, issuerKey);
}

/** SHA-256 of the DER, lower-case hex (the inventory's thumbprint). */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
