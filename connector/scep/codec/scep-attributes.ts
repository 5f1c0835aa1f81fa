import { octetsValue, parseDer, stringValue } from '../../../certs/cms/der-reader.js';
import { octetString, printableString } from '../../../certs/cms/der-writer.js';
import type { SignedAttributeInput } from '../../../certs/cms/index.js';
import { DecodeError } from '../../../core/errors.js';

/** Readers and writers of SCEP's signed attributes (RFC 8894 §3.2.1): one value each. */

const MAX_NONCE_BYTES = 64;
const MAX_TRANSACTION_ID_CHARS = 128;

function single(attributes: Map<string, Buffer[]>, oid: string, what: string): Buffer | undefined {
  const values = attributes.get(oid);
  if (values === undefined) return undefined;
  if (values.length !== 1) throw new DecodeError(`${what}: expected one value`);
  return values[0]!;
}

function required(attributes: Map<string, Buffer[]>, oid: string, what: string): Buffer {
  const value = single(attributes, oid, what);
  if (value === undefined) throw new DecodeError(`${what} attribute missing`);
  return value;
}

/** A PrintableString attribute, e.g. transactionID. */
export function readString(attributes: Map<string, Buffer[]>, oid: string, what: string): string {
  const der = required(attributes, oid, what);
  const text = stringValue(parseDer(der, what, der.length), what);
  if (text.length === 0 || text.length > MAX_TRANSACTION_ID_CHARS)
    throw new DecodeError(`${what}: bad length`);
  return text;
}

/** A decimal PrintableString attribute (messageType, pkiStatus, failInfo); undefined when absent and optional. */
export function readDecimal(
  attributes: Map<string, Buffer[]>,
  oid: string,
  what: string,
  optional = false,
): number | undefined {
  if (optional && !attributes.has(oid)) return undefined;
  const text = readString(attributes, oid, what);
  if (!/^\d{1,3}$/.test(text)) throw new DecodeError(`${what}: not a decimal number`);
  return Number(text);
}

/** An OCTET STRING nonce (RFC 8894 §3.2.1.5: 16 bytes; other lengths tolerated up to a limit). */
export function readNonce(attributes: Map<string, Buffer[]>, oid: string, what: string): Buffer {
  const der = required(attributes, oid, what);
  const nonce = octetsValue(parseDer(der, what, der.length), what);
  if (nonce.length === 0 || nonce.length > MAX_NONCE_BYTES) throw new DecodeError(`${what}: bad length`);
  return nonce;
}

export function stringAttribute(oid: string, text: string): SignedAttributeInput {
  return { oid, values: [printableString(text)] };
}

export function octetsAttribute(oid: string, bytes: Uint8Array): SignedAttributeInput {
  return { oid, values: [octetString(bytes)] };
}
