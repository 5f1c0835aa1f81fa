import { DecodeError } from '../core/errors.js';
import type { DistinguishedName } from './csr.js';
import { type AsnNode, isUniversal, oidValue, rawDer } from './der-reader.js';
import { directoryStringValue } from './directory-string.js';
import { type DecodedAttribute, formatRfc4514 } from './rfc4514-format.js';
import { childNodes, decodeX509Der } from './x509-der.js';

const SEQUENCE = 16;
const SET = 17;

/** Decodes a DER Name (RFC 5280 §4.1.2.4) into RDNs, RFC 4514 text and the original bytes. */
export function nameFromDer(der: Uint8Array): DistinguishedName {
  return nameFromNode(decodeX509Der(der, 'Name'));
}

/**
 * Name ::= SEQUENCE OF RelativeDistinguishedName, RDN ::= SET SIZE (1..MAX) OF
 * AttributeTypeAndValue (RFC 5280 §4.1.2.4). `der` is the element as received, not re-encoded,
 * so that issuer/subject matching and chaining compare the exact bytes.
 */
export function nameFromNode(node: AsnNode): DistinguishedName {
  if (!isUniversal(node, SEQUENCE)) throw new DecodeError('Name: not a SEQUENCE');
  const rdns = childNodes(node, 'Name').map(decodeRdn);
  return {
    rdns: rdns.map((rdn) => rdn.map(({ oid, value }) => ({ oid, value }))),
    text: formatRfc4514(rdns),
    der: Buffer.from(rawDer(node)),
  };
}

function decodeRdn(set: AsnNode): DecodedAttribute[] {
  if (!isUniversal(set, SET)) throw new DecodeError('Name: RDN is not a SET');
  const atvs = childNodes(set, 'RDN');
  if (atvs.length === 0) throw new DecodeError('Name: empty RDN');
  return atvs.map((atv) => {
    const [type, value, extra] = childNodes(atv, 'AttributeTypeAndValue');
    if (!value || extra) throw new DecodeError('Name: malformed AttributeTypeAndValue');
    return decodeAttributeValue(oidValue(type, 'attribute type'), value);
  });
}

/** A string value as text; anything else (RFC 4514 §2.4) as "#" + the hex of its whole encoding. */
function decodeAttributeValue(oid: string, value: AsnNode): DecodedAttribute {
  const text = directoryStringValue(value);
  if (text !== undefined) return { oid, value: text };
  const hex = rawDer(value).toString('hex');
  return { oid, value: `#${hex}`, rawHex: hex };
}
