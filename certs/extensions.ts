import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { encodedBytes } from './asn1.js';
import { extensionsFromNode } from './extension-decoders.js';
import { decodeX509Der } from './x509-der.js';

export {
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSubjectAltNames,
  decodeSubjectKeyIdentifier,
  extensionsFromNode,
} from './extension-decoders.js';
export {
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeCrlDistributionPoint,
  encodeExtensionDer,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeOcspAccess,
  encodeSubjectAltNames,
  encodeSubjectKeyIdentifier,
} from './extension-encoders.js';
export { emptySans, hasSans } from './sans.js';

/** One X.509 extension (RFC 5280 §4.1): extnValue is the DER inside the OCTET STRING. */
export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

// ---------------------------------------------------------------------------------------------
// asn1js adapters for the code that still builds asn1js trees (CRL, CSR builder); the per-request
// paths use extensionsFromNode / encodeExtensionDer.

/** Decodes `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension` from an asn1js block. */
export function decodeExtensions(block: asn1js.AsnType | undefined): Extension[] {
  if (!block) throw new DecodeError('Extensions: expected a constructed element');
  return extensionsFromNode(decodeX509Der(encodedBytes(block), 'Extensions'));
}

export function encodeExtension(ext: Extension): asn1js.Sequence {
  const value: asn1js.AsnType[] = [new asn1js.ObjectIdentifier({ value: ext.oid })];
  // DER: DEFAULT FALSE is omitted (X.690 §11.5).
  if (ext.critical) value.push(new asn1js.Boolean({ value: true }));
  value.push(new asn1js.OctetString({ valueHex: ext.value }));
  return new asn1js.Sequence({ value });
}
