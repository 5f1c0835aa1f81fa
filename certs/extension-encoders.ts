import { DecodeError } from '../core/errors.js';
import type { SubjectAltNames } from './csr.js';
import {
  bitString,
  contextConstructed,
  contextPrimitive,
  derTrue,
  integer,
  objectIdentifier,
  octetString,
  sequence,
  utf8String,
} from './der-writer.js';
import type { Extension } from './extensions.js';
import { ipToBytes } from './ip.js';
import { ekuOid, KEY_USAGE_BITS, Oid } from './oids.js';

/**
 * DER writers for the extensions we put into certificates and CSRs. They write straight into
 * buffers (certs/der-writer.ts) because issuance runs them on every request; the bytes are the
 * same asn1js wrote before.
 */

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export function encodeExtensionDer(ext: Extension): Buffer {
  // DER: DEFAULT FALSE is omitted (X.690 §11.5).
  return ext.critical
    ? sequence(objectIdentifier(ext.oid), derTrue, octetString(ext.value))
    : sequence(objectIdentifier(ext.oid), octetString(ext.value));
}

// ---------------------------------------------------------------------------------------------
// Subject alternative name (RFC 5280 §4.2.1.6)

const GN = { otherName: 0, rfc822Name: 1, dNSName: 2, uri: 6, iPAddress: 7 } as const;

export function encodeSubjectAltNames(sans: SubjectAltNames): Buffer {
  return sequence(
    ...sans.email.map((e) => contextPrimitive(GN.rfc822Name, asciiBytes(e))),
    ...sans.dns.map((d) => contextPrimitive(GN.dNSName, asciiBytes(d))),
    ...sans.uri.map((u) => contextPrimitive(GN.uri, asciiBytes(u))),
    ...sans.ip.map((ip) => contextPrimitive(GN.iPAddress, ipToBytes(ip))),
    // otherName ::= SEQUENCE { type-id, [0] EXPLICIT value }, IMPLICIT [0] in GeneralName.
    ...sans.upn.map((upn) =>
      contextConstructed(GN.otherName, objectIdentifier(Oid.msUpn), contextConstructed(0, utf8String(upn))),
    ),
  );
}

function asciiBytes(s: string): Buffer {
  // IA5String (RFC 5280 §4.2.1.6: internationalized names must be converted to A-labels/URIs first).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is the 7-bit range
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DecodeError(`SAN value is not ASCII: ${s}`);
  return Buffer.from(s, 'latin1');
}

// ---------------------------------------------------------------------------------------------
// Key usage (RFC 5280 §4.2.1.3) and extended key usage (§4.2.1.12)

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
  return bitString(unusedBits, Uint8Array.from(bytes));
}

export function encodeExtKeyUsage(namesOrOids: string[]): Buffer {
  const oids = namesOrOids.map((n) => {
    const oid = ekuOid(n);
    if (!oid) throw new DecodeError(`unknown extended key usage ${n}`);
    return objectIdentifier(oid);
  });
  return sequence(...oids);
}

// ---------------------------------------------------------------------------------------------
// Basic constraints (§4.2.1.9), key identifiers (§4.2.1.1, §4.2.1.2), CDP (§4.2.1.13), AIA (§4.2.2.1)

export function encodeBasicConstraints(isCa: boolean, pathLen?: number): Buffer {
  if (!isCa) return sequence();
  return pathLen === undefined ? sequence(derTrue) : sequence(derTrue, integer(pathLen));
}

export function encodeSubjectKeyIdentifier(keyId: Uint8Array): Buffer {
  return octetString(keyId);
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, … }. */
export function encodeAuthorityKeyIdentifier(keyId: Uint8Array): Buffer {
  return sequence(contextPrimitive(0, keyId));
}

/** One DistributionPoint { distributionPoint [0] { fullName [0] { URI } } } (RFC 5280 §4.2.1.13). */
export function encodeCrlDistributionPoint(url: string): Buffer {
  const fullName = contextConstructed(0, contextPrimitive(GN.uri, asciiBytes(url)));
  return sequence(sequence(contextConstructed(0, fullName)));
}

/** AuthorityInfoAccess with one id-ad-ocsp accessLocation URI. */
export function encodeOcspAccess(url: string): Buffer {
  return sequence(sequence(objectIdentifier(Oid.accessOcsp), contextPrimitive(GN.uri, asciiBytes(url))));
}
