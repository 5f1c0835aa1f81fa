import * as asn1js from 'asn1js';
import { DecodeError, OutpostError } from '../../core/errors.js';

/**
 * Thin, throwing accessors over an asn1js tree. asn1js reports errors in fields rather than by
 * throwing; these helpers turn every surprise into a DecodeError naming what was being read, so a
 * decoder reads top-down without checks of its own.
 */
export type AsnNode = asn1js.AsnType;

const UNIVERSAL = 1;
const CONTEXT = 3;

/** Parses exactly one BER/DER element filling `bytes`; trailing bytes are malformed. */
export function parseDer(bytes: Uint8Array, what: string, maxBytes: number): AsnNode {
  if (bytes.length > maxBytes) throw new DecodeError(`${what} too large`);
  if (bytes.length === 0) throw new DecodeError(`${what} empty`);
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(bytes);
  } catch (cause) {
    // deep nesting can overflow the stack inside asn1js
    throw new DecodeError(`${what} malformed`, { cause });
  }
  if (parsed.offset !== bytes.length || parsed.result.error) throw new DecodeError(`${what} malformed`);
  return parsed.result;
}

/** Runs a decoder body and maps anything but an OutpostError to DecodeError (fuzz safety net). */
export function decoding<T>(what: string, body: () => T): T {
  try {
    return body();
  } catch (cause) {
    if (cause instanceof OutpostError) throw cause;
    throw new DecodeError(`${what} malformed`, { cause });
  }
}

function isTag(node: AsnNode, tagClass: number, tagNumber: number): boolean {
  return node.idBlock.tagClass === tagClass && node.idBlock.tagNumber === tagNumber;
}

export function isContextTag(node: AsnNode | undefined, n: number): node is AsnNode {
  return node !== undefined && isTag(node, CONTEXT, n);
}

export function isSequence(node: AsnNode | undefined): node is AsnNode {
  return node !== undefined && isTag(node, UNIVERSAL, 16) && node.idBlock.isConstructed;
}

function constructedItems(node: AsnNode, what: string): AsnNode[] {
  if (!node.idBlock.isConstructed) throw new DecodeError(`${what}: expected a constructed value`);
  const value = (node.valueBlock as unknown as { value?: AsnNode[] }).value;
  if (!Array.isArray(value)) throw new DecodeError(`${what}: expected a constructed value`);
  return value;
}

/** Items of a SEQUENCE, with a count range so that index access below is safe. */
export function sequenceItems(node: AsnNode | undefined, what: string, min: number, max = min): AsnNode[] {
  if (!isSequence(node)) throw new DecodeError(`${what}: expected SEQUENCE`);
  const items = constructedItems(node, what);
  if (items.length < min || items.length > max) throw new DecodeError(`${what}: wrong number of fields`);
  return items;
}

/** Items of a SET (OF), bounded by `maxItems`. */
export function setItems(node: AsnNode | undefined, what: string, maxItems: number): AsnNode[] {
  if (node === undefined || !isTag(node, UNIVERSAL, 17)) throw new DecodeError(`${what}: expected SET`);
  return boundedItems(node, what, maxItems);
}

/** Items of a constructed [n] (EXPLICIT wrapper or IMPLICIT SET OF), bounded by `maxItems`. */
export function contextItems(
  node: AsnNode | undefined,
  n: number,
  what: string,
  maxItems: number,
): AsnNode[] {
  if (!isContextTag(node, n)) throw new DecodeError(`${what}: expected [${n}]`);
  return boundedItems(node, what, maxItems);
}

function boundedItems(node: AsnNode, what: string, maxItems: number): AsnNode[] {
  const items = constructedItems(node, what);
  if (items.length > maxItems) throw new DecodeError(`${what}: too many items`);
  return items;
}

/** The single item inside an EXPLICIT [n]. */
export function explicitItem(node: AsnNode | undefined, n: number, what: string): AsnNode {
  const items = contextItems(node, n, what, 1);
  if (items.length !== 1) throw new DecodeError(`${what}: empty [${n}]`);
  return items[0]!;
}

export function oidValue(node: AsnNode | undefined, what: string): string {
  if (!(node instanceof asn1js.ObjectIdentifier))
    throw new DecodeError(`${what}: expected OBJECT IDENTIFIER`);
  const text = node.getValue();
  if (!text) throw new DecodeError(`${what}: bad OBJECT IDENTIFIER`);
  return text;
}

/** Content octets of the original encoding, without copying. */
function viewOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The element exactly as it was encoded (tag, length and contents): signatures cover these bytes. */
export function rawDer(node: AsnNode): Buffer {
  return viewOf(node.valueBeforeDecodeView);
}

/**
 * OCTET STRING contents, also for the BER constructed form and for IMPLICIT [n] OCTET STRING
 * (`tagNumber`), both of which streaming encoders (indefinite length) produce.
 */
export function octetsValue(node: AsnNode | undefined, what: string, contextTag?: number): Buffer {
  if (node === undefined) throw new DecodeError(`${what}: missing`);
  const tagOk = contextTag === undefined ? isTag(node, UNIVERSAL, 4) : isContextTag(node, contextTag);
  if (!tagOk) throw new DecodeError(`${what}: expected OCTET STRING`);
  if (!node.idBlock.isConstructed)
    return viewOf((node.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView);
  return Buffer.concat(constructedItems(node, what).map((segment) => octetsValue(segment, what)));
}

/** INTEGER contents as encoded (two's complement, big-endian): serial numbers are compared this way. */
export function integerBytes(node: AsnNode | undefined, what: string): Buffer {
  if (!(node instanceof asn1js.Integer)) throw new DecodeError(`${what}: expected INTEGER`);
  const bytes = node.valueBlock.valueHexView;
  if (bytes.length === 0) throw new DecodeError(`${what}: empty INTEGER`);
  return viewOf(bytes);
}

/** A small INTEGER (versions): at most 4 bytes. */
export function smallIntegerValue(node: AsnNode | undefined, what: string): number {
  const bytes = integerBytes(node, what);
  if (bytes.length > 4) throw new DecodeError(`${what}: INTEGER too large`);
  return bytes.readIntBE(0, bytes.length);
}

/** PrintableString (or any other string type a sloppy client may use) as text. */
export function stringValue(node: AsnNode | undefined, what: string): string {
  if (!(node instanceof asn1js.BaseStringBlock)) throw new DecodeError(`${what}: expected a string`);
  return String(node.getValue());
}
