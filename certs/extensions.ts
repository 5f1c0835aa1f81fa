import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { childrenOf, decodeDer, expectOid, isContextTag, primitiveContent, toBuffer } from './asn1.js';
import type { SubjectAltNames } from './csr.js';
import { bytesToIp, ipToBytes } from './ip.js';
import { ekuName, ekuOid, KEY_USAGE_BITS, keyUsageNamesFromBits, Oid } from './oids.js';

/** One X.509 extension (RFC 5280 §4.1): extnValue is the DER inside the OCTET STRING. */
export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export function emptySans(): SubjectAltNames {
  return { dns: [], email: [], uri: [], ip: [], upn: [] };
}

export function hasSans(sans: SubjectAltNames): boolean {
  return sans.dns.length + sans.email.length + sans.uri.length + sans.ip.length + sans.upn.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Extensions container

/** Decodes `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`. */
export function decodeExtensions(block: asn1js.AsnType): Extension[] {
  return childrenOf(block, 'Extensions').map((ext) => {
    const parts = childrenOf(ext, 'Extension');
    const oid = expectOid(parts[0], 'extnID');
    const hasCritical = parts[1] instanceof asn1js.Boolean;
    const critical = hasCritical ? (parts[1] as asn1js.Boolean).getValue() : false;
    const octets = parts[hasCritical ? 2 : 1];
    if (!(octets instanceof asn1js.OctetString) || parts.length > (hasCritical ? 3 : 2)) {
      throw new DecodeError('Extension: malformed');
    }
    return { oid, critical, value: toBuffer(octets.valueBlock.valueHexView) };
  });
}

export function encodeExtension(ext: Extension): asn1js.Sequence {
  const value: asn1js.AsnType[] = [new asn1js.ObjectIdentifier({ value: ext.oid })];
  // DER: DEFAULT FALSE is omitted (X.690 §11.5).
  if (ext.critical) value.push(new asn1js.Boolean({ value: true }));
  value.push(new asn1js.OctetString({ valueHex: ext.value }));
  return new asn1js.Sequence({ value });
}

function der(block: asn1js.AsnType): Buffer {
  return toBuffer(block.toBER(false));
}

// ---------------------------------------------------------------------------------------------
// Subject alternative name (RFC 5280 §4.2.1.6)

const GN = { otherName: 0, rfc822Name: 1, dNSName: 2, uri: 6, iPAddress: 7 } as const;

/** GeneralNames DER → SANs we understand; other name forms (directoryName, registeredID, …) are skipped. */
export function decodeSubjectAltNames(value: Uint8Array): SubjectAltNames {
  const sans = emptySans();
  for (const gn of childrenOf(decodeDer(value, 'SubjectAltName'), 'GeneralNames')) {
    const id = (gn as asn1js.BaseBlock).idBlock;
    if (id.tagClass !== 3) throw new DecodeError('GeneralName: not context-tagged');
    switch (id.tagNumber) {
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

function ia5(gn: asn1js.AsnType): string {
  const bytes = primitiveContent(gn);
  if (bytes.some((b) => b > 0x7f)) throw new DecodeError('IA5String with non-ASCII octets');
  return bytes.toString('latin1');
}

/** otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }; only the Microsoft UPN is kept. */
function decodeOtherName(gn: asn1js.AsnType, sans: SubjectAltNames): void {
  const [typeId, wrapped] = childrenOf(gn, 'otherName');
  if (expectOid(typeId, 'otherName type') !== Oid.msUpn) return;
  if (!isContextTag(wrapped, 0)) throw new DecodeError('otherName: missing [0] value');
  const [inner] = childrenOf(wrapped, 'otherName value');
  if (!(inner instanceof asn1js.BaseStringBlock)) throw new DecodeError('UPN is not a string');
  sans.upn.push(inner.getValue());
}

export function encodeSubjectAltNames(sans: SubjectAltNames): Buffer {
  const tagged = (tag: number, bytes: Uint8Array) =>
    new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: tag }, valueHex: bytes });
  const names: asn1js.AsnType[] = [
    ...sans.email.map((e) => tagged(GN.rfc822Name, asciiBytes(e))),
    ...sans.dns.map((d) => tagged(GN.dNSName, asciiBytes(d))),
    ...sans.uri.map((u) => tagged(GN.uri, asciiBytes(u))),
    ...sans.ip.map((ip) => tagged(GN.iPAddress, ipToBytes(ip))),
    ...sans.upn.map(
      (upn) =>
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: GN.otherName },
          value: [
            new asn1js.ObjectIdentifier({ value: Oid.msUpn }),
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [new asn1js.Utf8String({ value: upn })],
            }),
          ],
        }),
    ),
  ];
  return der(new asn1js.Sequence({ value: names }));
}

function asciiBytes(s: string): Buffer {
  // IA5String (RFC 5280 §4.2.1.6: internationalized names must be converted to A-labels/URIs first).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is the 7-bit range
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DecodeError(`SAN value is not ASCII: ${s}`);
  return Buffer.from(s, 'latin1');
}

// ---------------------------------------------------------------------------------------------
// Key usage (RFC 5280 §4.2.1.3) and extended key usage (§4.2.1.12)

export function decodeKeyUsage(value: Uint8Array): string[] {
  const bits = decodeDer(value, 'KeyUsage');
  if (!(bits instanceof asn1js.BitString)) throw new DecodeError('KeyUsage is not a BIT STRING');
  return keyUsageNamesFromBits(bits.valueBlock.valueHexView);
}

/** Named-bit BIT STRING in DER: trailing zero bits dropped (X.690 §11.2.2). */
export function encodeKeyUsage(names: string[]): Buffer {
  const bytes = [0, 0];
  for (const name of names) {
    const bit = KEY_USAGE_BITS[name];
    if (bit === undefined || !Object.hasOwn(KEY_USAGE_BITS, name))
      throw new DecodeError(`unknown key usage ${name}`);
    bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  }
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes.pop();
  const last = bytes[bytes.length - 1] ?? 0;
  let unusedBits = 0;
  while (bytes.length > 0 && unusedBits < 7 && !(last & (1 << unusedBits))) unusedBits++;
  return der(new asn1js.BitString({ unusedBits, valueHex: Uint8Array.from(bytes) }));
}

export function decodeExtKeyUsage(value: Uint8Array): string[] {
  return childrenOf(decodeDer(value, 'ExtKeyUsage'), 'ExtKeyUsage').map((o) =>
    ekuName(expectOid(o, 'KeyPurposeId')),
  );
}

export function encodeExtKeyUsage(namesOrOids: string[]): Buffer {
  const oids = namesOrOids.map((n) => {
    const oid = ekuOid(n);
    if (!oid) throw new DecodeError(`unknown extended key usage ${n}`);
    return new asn1js.ObjectIdentifier({ value: oid });
  });
  return der(new asn1js.Sequence({ value: oids }));
}

// ---------------------------------------------------------------------------------------------
// Basic constraints (§4.2.1.9), key identifiers (§4.2.1.1, §4.2.1.2), CDP (§4.2.1.13), AIA (§4.2.2.1)

export function encodeBasicConstraints(isCa: boolean, pathLen?: number): Buffer {
  const value: asn1js.AsnType[] = [];
  if (isCa) value.push(new asn1js.Boolean({ value: true }));
  if (isCa && pathLen !== undefined) value.push(new asn1js.Integer({ value: pathLen }));
  return der(new asn1js.Sequence({ value }));
}

export function decodeBasicConstraints(value: Uint8Array): { isCa: boolean; pathLen?: number } {
  const [first, second] = childrenOf(decodeDer(value, 'BasicConstraints'), 'BasicConstraints');
  const isCa = first instanceof asn1js.Boolean ? first.getValue() : false;
  const lenBlock = first instanceof asn1js.Integer ? first : second;
  return lenBlock instanceof asn1js.Integer ? { isCa, pathLen: lenBlock.valueBlock.valueDec } : { isCa };
}

export function encodeSubjectKeyIdentifier(keyId: Uint8Array): Buffer {
  return der(new asn1js.OctetString({ valueHex: keyId }));
}

export function decodeSubjectKeyIdentifier(value: Uint8Array): Buffer {
  const octets = decodeDer(value, 'SubjectKeyIdentifier');
  if (!(octets instanceof asn1js.OctetString))
    throw new DecodeError('SubjectKeyIdentifier is not an OCTET STRING');
  return toBuffer(octets.valueBlock.valueHexView);
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, … }. */
export function encodeAuthorityKeyIdentifier(keyId: Uint8Array): Buffer {
  const tagged = new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: keyId });
  return der(new asn1js.Sequence({ value: [tagged] }));
}

/** One distributionPoint with a fullName URI (RFC 5280 §4.2.1.13). */
export function encodeCrlDistributionPoint(url: string): Buffer {
  const uri = new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: GN.uri },
    valueHex: asciiBytes(url),
  });
  const fullName = new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [uri] });
  const dpName = new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [fullName] });
  return der(new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [dpName] })] }));
}

/** AuthorityInfoAccess with one id-ad-ocsp accessLocation URI. */
export function encodeOcspAccess(url: string): Buffer {
  const uri = new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: GN.uri },
    valueHex: asciiBytes(url),
  });
  const access = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: Oid.accessOcsp }), uri],
  });
  return der(new asn1js.Sequence({ value: [access] }));
}
