import type { KeyObject } from 'node:crypto';
import { DecodeError } from '../core/errors.js';
import { verifyWithAlgorithm } from './algorithms.js';
import { toBuffer } from './asn1.js';
import {
  type AsnNode,
  bitStringValue,
  contentOf,
  isContextTag,
  isUniversal,
  oidValue,
  rawDer,
} from './der-reader.js';
import { directoryStringValue } from './directory-string.js';
import {
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  type Extension,
  emptySans,
  extensionsFromNode,
} from './extensions.js';
import { nameFromNode } from './name-from-der.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki as cachedPublicKey } from './public-key-cache.js';
import { childNodes, decodeX509Der } from './x509-der.js';

const INTEGER = 2;
const BIT_STRING = 3;
const SEQUENCE = 16;

export { type BuildCsrOptions, buildCsr } from './csr-builder.js';

/** One attribute of a distinguished name, e.g. { oid: '2.5.4.3', value: 'device-1' }. */
export interface NameAttribute {
  oid: string;
  value: string;
}

export interface DistinguishedName {
  /** RDNs in encoding order (first = most significant, e.g. C before CN). */
  rdns: NameAttribute[][];
  /** RFC 4514 string (most specific first, e.g. "CN=device-1,OU=Devices,O=Example,C=US"). */
  text: string;
  /** DER of the Name as it appeared. */
  der: Buffer;
}

export interface SubjectAltNames {
  dns: string[];
  email: string[];
  uri: string[];
  ip: string[];
  /** Microsoft UPN otherName (1.3.6.1.4.1.311.20.2.3). */
  upn: string[];
}

export interface ParsedCsr {
  der: Buffer;
  subject: DistinguishedName;
  publicKey: KeyObject;
  spkiDer: Buffer;
  keyType: 'rsa' | 'ec';
  /** RSA modulus bits, or EC field size bits (256 for P-256). */
  keyBits: number;
  /** Named curve for EC keys, e.g. 'P-256'. */
  curve?: string;
  sans: SubjectAltNames;
  /** PKCS#9 challengePassword attribute, if present. */
  challengePassword?: string;
  /** Key usage names requested through the extensionRequest attribute. */
  requestedKeyUsage: string[];
  /** EKU names (or dotted OIDs when unknown) requested through the extensionRequest attribute. */
  requestedEku: string[];
  /** The CSR's self-signature verified with its own public key. */
  signatureValid: boolean;
}

/** PKCS#10 requests are a few KiB at most; anything bigger is refused before decoding (DESIGN rule 4). */
export const MAX_CSR_BYTES = 64 * 1024;

/** Parses a DER PKCS#10 request. Throws DecodeError on anything malformed. */
export function parseCsr(der: Uint8Array): ParsedCsr {
  if (der.byteLength > MAX_CSR_BYTES) throw new DecodeError(`CSR larger than ${MAX_CSR_BYTES} bytes`);
  try {
    return parseCsrUnchecked(der);
  } catch (e) {
    // Codecs throw only DecodeError; anything else escaping a decoder is malformed input too.
    if (e instanceof DecodeError) throw e;
    throw new DecodeError('malformed CSR', { cause: e });
  }
}

/**
 * RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
 * signature }. Read with the zero-copy DER reader (asn1js cost ~1 ms per request here); the input
 * is copied once so that the result does not change when the caller reuses its buffer.
 */
function parseCsrUnchecked(der: Uint8Array): ParsedCsr {
  const root = decodeX509Der(Buffer.from(der), 'CSR');
  const [info, signatureAlgorithm, signatureBits, ...extra] = childNodes(root, 'CertificationRequest');
  if (!isUniversal(info, SEQUENCE) || !signatureAlgorithm || extra.length > 0) {
    throw new DecodeError('CSR: malformed CertificationRequest');
  }
  const [version, subjectNode, spkiNode, attributesNode, ...rest] = childNodes(
    info,
    'CertificationRequestInfo',
  );
  if (!isVersion1(version) || !subjectNode || !spkiNode || rest.length > 0) {
    throw new DecodeError('CSR: unsupported version or malformed info');
  }
  const spkiDer = rawDer(spkiNode);
  const publicKey = publicKeyFromSpki(spkiDer);
  const attributes = attributesNode ? decodeAttributes(attributesNode) : { extensions: [] };
  return {
    der: toBuffer(der),
    subject: nameFromNode(subjectNode),
    publicKey,
    spkiDer,
    ...keyFacts(publicKey),
    ...requestedExtensions(attributes.extensions),
    ...(attributes.challengePassword !== undefined
      ? { challengePassword: attributes.challengePassword }
      : {}),
    signatureValid: verifyWithAlgorithm(
      signatureAlgorithm,
      rawDer(info),
      signatureBytes(signatureBits),
      publicKey,
    ),
  };
}

/**
 * DER of a CSR's CertificationRequestInfo (RFC 2986 §4.1: subject, key, attributes; what the
 * signature covers). Two CSRs asking for the same thing with the same key have the same one,
 * even when their signatures differ ((EC)DSA and PSS signatures are randomized).
 */
export function csrRequestInfoDer(der: Uint8Array): Buffer {
  if (der.byteLength > MAX_CSR_BYTES) throw new DecodeError(`CSR larger than ${MAX_CSR_BYTES} bytes`);
  const [info] = childNodes(decodeX509Der(Buffer.from(der), 'CSR'), 'CertificationRequest');
  if (!isUniversal(info, SEQUENCE)) throw new DecodeError('CSR: malformed CertificationRequest');
  return rawDer(info);
}

/** version INTEGER { v1(0) } (RFC 2986 §4.1). */
function isVersion1(node: AsnNode | undefined): boolean {
  if (!isUniversal(node, INTEGER) || node.constructed) return false;
  const bytes = contentOf(node);
  return bytes.every((b) => b === 0);
}

function publicKeyFromSpki(spkiDer: Buffer): KeyObject {
  try {
    return cachedPublicKey(spkiDer);
  } catch (cause) {
    throw new DecodeError('CSR: unreadable public key', { cause });
  }
}

const CURVES: Readonly<Record<string, { name: string; bits: number }>> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

function keyFacts(publicKey: KeyObject): Pick<ParsedCsr, 'keyType' | 'keyBits' | 'curve'> {
  const type = publicKey.asymmetricKeyType;
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') return { keyType: 'rsa', keyBits: details.modulusLength ?? 0 };
  if (type === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (!curve) throw new DecodeError(`CSR: unsupported curve ${details.namedCurve}`);
    return { keyType: 'ec', keyBits: curve.bits, curve: curve.name };
  }
  throw new DecodeError(`CSR: unsupported key type ${type}`);
}

function signatureBytes(node: AsnNode | undefined): Buffer {
  if (!isUniversal(node, BIT_STRING))
    throw new DecodeError('CSR: signature is not an octet-aligned BIT STRING');
  if (!node.constructed && node.contentEnd === node.contentStart) return Buffer.alloc(0); // verifies as false
  const { unusedBits, bytes } = bitStringValue(node, 'CSR signature');
  if (unusedBits !== 0) throw new DecodeError('CSR: signature is not an octet-aligned BIT STRING');
  return bytes;
}

/** attributes [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1); unknown attributes are ignored. */
function decodeAttributes(node: AsnNode): { challengePassword?: string; extensions: Extension[] } {
  if (!isContextTag(node, 0)) throw new DecodeError('CSR: attributes not tagged [0]');
  const out: { challengePassword?: string; extensions: Extension[] } = { extensions: [] };
  for (const attribute of childNodes(node, 'attributes')) {
    // Attribute ::= SEQUENCE { type OID, values SET OF AttributeValue } (RFC 2986 §4.1, X.501)
    const [typeNode, valuesNode] = childNodes(attribute, 'Attribute');
    const type = oidValue(typeNode, 'attribute type');
    const [first] = childNodes(valuesNode, 'attribute values');
    if (type === Oid.challengePassword) out.challengePassword = directoryString(first);
    // extensionRequest (RFC 2985 §5.4.2): the value is an Extensions SEQUENCE
    if (type === Oid.extensionRequest && first) out.extensions.push(...extensionsFromNode(first));
  }
  return out;
}

/** challengePassword is a DirectoryString (RFC 2985 §5.4.1): Printable, UTF8, IA5, BMP, Teletex, … */
function directoryString(node: AsnNode | undefined): string {
  const text = node && directoryStringValue(node);
  if (text === undefined) throw new DecodeError('CSR: challengePassword is not a string');
  return text;
}

function requestedExtensions(
  extensions: Extension[],
): Pick<ParsedCsr, 'sans' | 'requestedKeyUsage' | 'requestedEku'> {
  const out = { sans: emptySans(), requestedKeyUsage: [] as string[], requestedEku: [] as string[] };
  for (const ext of extensions) {
    if (ext.oid === Oid.subjectAltName) mergeSans(out.sans, decodeSubjectAltNames(ext.value));
    else if (ext.oid === Oid.keyUsage) out.requestedKeyUsage.push(...decodeKeyUsage(ext.value));
    else if (ext.oid === Oid.extKeyUsage) out.requestedEku.push(...decodeExtKeyUsage(ext.value));
  }
  return out;
}

function mergeSans(into: SubjectAltNames, from: SubjectAltNames): void {
  into.dns.push(...from.dns);
  into.email.push(...from.email);
  into.uri.push(...from.uri);
  into.ip.push(...from.ip);
  into.upn.push(...from.upn);
}
