import { DecodeError } from '../core/errors.js';
import type { SubjectAltNames } from './csr.js';
import {
  type AsnNode,
  bitStringValue,
  booleanValue,
  contentOf,
  isContextTag,
  isUniversal,
  octetsValue,
  oidValue,
} from './der-reader.js';
import { directoryStringValue } from './directory-string.js';
import type { Extension } from './extensions.js';
import { bytesToIp } from './ip.js';
import { ekuName, keyUsageNamesFromBits, Oid } from './oids.js';
import { emptySans } from './sans.js';
import { childNodes, decodeX509Der } from './x509-der.js';

const BOOLEAN = 1;
const INTEGER = 2;

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1; RFC 2986 extensionRequest). */
export function extensionsFromNode(node: AsnNode | undefined): Extension[] {
  return childNodes(node, 'Extensions').map((ext) => {
    const parts = childNodes(ext, 'Extension');
    const oid = oidValue(parts[0], 'extnID');
    // critical BOOLEAN DEFAULT FALSE: present only when TRUE in DER, but BER may spell FALSE.
    const hasCritical = isUniversal(parts[1], BOOLEAN);
    const critical = hasCritical ? booleanValue(parts[1], 'critical') : false;
    const octets = parts[hasCritical ? 2 : 1];
    if (!isUniversal(octets, 4) || parts.length > (hasCritical ? 3 : 2)) {
      throw new DecodeError('Extension: malformed');
    }
    return { oid, critical, value: Buffer.from(octetsValue(octets, 'extnValue')) };
  });
}

// ---------------------------------------------------------------------------------------------
// Subject alternative name (RFC 5280 §4.2.1.6)

const GN = { otherName: 0, rfc822Name: 1, dNSName: 2, uri: 6, iPAddress: 7 } as const;

/** GeneralNames DER → SANs we understand; other name forms (directoryName, registeredID, …) are skipped. */
export function decodeSubjectAltNames(value: Uint8Array): SubjectAltNames {
  const sans = emptySans();
  for (const gn of childNodes(decodeX509Der(value, 'SubjectAltName'), 'GeneralNames')) {
    if (gn.tagClass !== 2) throw new DecodeError('GeneralName: not context-tagged');
    switch (gn.tagNumber) {
      case GN.otherName:
        decodeOtherName(gn, sans);
        break;
      case GN.rfc822Name:
        sans.email.push(ia5(gn));
        break;
      case GN.dNSName:
        sans.dns.push(ia5(gn));
        break;
      case GN.uri:
        sans.uri.push(ia5(gn));
        break;
      case GN.iPAddress:
        sans.ip.push(bytesToIp(primitiveContent(gn)));
        break;
    }
  }
  return sans;
}

/** Contents of an IMPLICIT primitive [n] (rfc822Name, dNSName, URI, iPAddress). */
function primitiveContent(node: AsnNode): Buffer {
  if (node.constructed) throw new DecodeError('expected a primitive element');
  return contentOf(node);
}

function ia5(gn: AsnNode): string {
  const bytes = primitiveContent(gn);
  if (bytes.some((b) => b > 0x7f)) throw new DecodeError('IA5String with non-ASCII octets');
  return bytes.toString('latin1');
}

/** otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }; only the Microsoft UPN is kept. */
function decodeOtherName(gn: AsnNode, sans: SubjectAltNames): void {
  const [typeId, wrapped] = childNodes(gn, 'otherName');
  if (oidValue(typeId, 'otherName type') !== Oid.msUpn) return;
  if (!isContextTag(wrapped, 0)) throw new DecodeError('otherName: missing [0] value');
  const [inner] = childNodes(wrapped, 'otherName value');
  const upn = inner && directoryStringValue(inner);
  if (upn === undefined) throw new DecodeError('UPN is not a string');
  sans.upn.push(upn);
}

// ---------------------------------------------------------------------------------------------
// Key usage (§4.2.1.3), extended key usage (§4.2.1.12), basic constraints (§4.2.1.9), SKI (§4.2.1.2)

export function decodeKeyUsage(value: Uint8Array): string[] {
  const node = decodeX509Der(value, 'KeyUsage');
  if (!isUniversal(node, 3)) throw new DecodeError('KeyUsage is not a BIT STRING');
  return keyUsageNamesFromBits(bitStringValue(node, 'KeyUsage').bytes);
}

export function decodeExtKeyUsage(value: Uint8Array): string[] {
  return childNodes(decodeX509Der(value, 'ExtKeyUsage'), 'ExtKeyUsage').map((o) =>
    ekuName(oidValue(o, 'KeyPurposeId')),
  );
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
export function decodeBasicConstraints(value: Uint8Array): { isCa: boolean; pathLen?: number } {
  const [first, second] = childNodes(decodeX509Der(value, 'BasicConstraints'), 'BasicConstraints');
  const isCa = isUniversal(first, BOOLEAN) ? booleanValue(first, 'cA') : false;
  const lenNode = isUniversal(first, INTEGER) ? first : second;
  return isUniversal(lenNode, INTEGER) ? { isCa, pathLen: pathLenValue(lenNode) } : { isCa };
}

/** pathLenConstraint: 0..MAX; more than 32 bits is not a real constraint and is refused. */
function pathLenValue(node: AsnNode): number {
  const bytes = primitiveContent(node);
  if (bytes.length === 0) return 0;
  if (bytes.length > 4) throw new DecodeError('pathLenConstraint too large');
  return bytes.readIntBE(0, bytes.length);
}

export function decodeSubjectKeyIdentifier(value: Uint8Array): Buffer {
  const node = decodeX509Der(value, 'SubjectKeyIdentifier');
  if (!isUniversal(node, 4)) throw new DecodeError('SubjectKeyIdentifier is not an OCTET STRING');
  return Buffer.from(octetsValue(node, 'SubjectKeyIdentifier'));
}
