import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { verifySignature } from './algorithms.js';
import { childrenOf, decodeDer, encodedBytes, expectOid, isContextTag, toBuffer } from './asn1.js';
import {
  decodeExtensions,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  type Extension,
  emptySans,
} from './extensions.js';
import { nameFromAsn1 } from './name.js';
import { Oid } from './oids.js';
import { publicKeyFromSpki as cachedPublicKey } from './public-key-cache.js';

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

/** RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }. */
function parseCsrUnchecked(der: Uint8Array): ParsedCsr {
  const root = decodeDer(der, 'CSR');
  const [info, signatureAlgorithm, signatureBits, ...extra] = childrenOf(root, 'CertificationRequest');
  if (!(info instanceof asn1js.Sequence) || !signatureAlgorithm || extra.length > 0) {
    throw new DecodeError('CSR: malformed CertificationRequest');
  }
  const [version, subjectBlock, spkiBlock, attributesBlock, ...rest] = childrenOf(
    info,
    'CertificationRequestInfo',
  );
  if (
    !(version instanceof asn1js.Integer) ||
    version.valueBlock.valueDec !== 0 ||
    !subjectBlock ||
    rest.length > 0
  ) {
    throw new DecodeError('CSR: unsupported version or malformed info');
  }
  const spkiDer = encodedBytes(spkiBlock!);
  const publicKey = publicKeyFromSpki(spkiDer);
  const attributes = attributesBlock ? decodeAttributes(attributesBlock) : { extensions: [] };
  return {
    der: toBuffer(der),
    subject: nameFromAsn1(subjectBlock),
    publicKey,
    spkiDer,
    ...keyFacts(publicKey),
    ...requestedExtensions(attributes.extensions),
    ...(attributes.challengePassword !== undefined
      ? { challengePassword: attributes.challengePassword }
      : {}),
    signatureValid: verifySignature(
      signatureAlgorithm,
      encodedBytes(info),
      signatureBytes(signatureBits),
      publicKey,
    ),
  };
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

function signatureBytes(block: asn1js.AsnType | undefined): Buffer {
  if (!(block instanceof asn1js.BitString) || block.valueBlock.unusedBits !== 0) {
    throw new DecodeError('CSR: signature is not an octet-aligned BIT STRING');
  }
  return toBuffer(block.valueBlock.valueHexView);
}

/** attributes [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1); unknown attributes are ignored. */
function decodeAttributes(block: asn1js.AsnType): { challengePassword?: string; extensions: Extension[] } {
  if (!isContextTag(block, 0)) throw new DecodeError('CSR: attributes not tagged [0]');
  const out: { challengePassword?: string; extensions: Extension[] } = { extensions: [] };
  for (const attribute of childrenOf(block, 'attributes')) {
    const [typeBlock, valuesBlock] = childrenOf(attribute, 'Attribute');
    const type = expectOid(typeBlock, 'attribute type');
    const [first] = childrenOf(valuesBlock, 'attribute values');
    if (type === Oid.challengePassword) out.challengePassword = directoryString(first);
    if (type === Oid.extensionRequest && first) out.extensions.push(...decodeExtensions(first));
  }
  return out;
}

/** challengePassword is a DirectoryString (RFC 2985 §5.4.1): Printable, UTF8, IA5, BMP, Teletex, … */
function directoryString(block: asn1js.AsnType | undefined): string {
  if (!(block instanceof asn1js.BaseStringBlock))
    throw new DecodeError('CSR: challengePassword is not a string');
  return block.getValue();
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
