import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';

/**
 * Resource limits for untrusted input (DESIGN rule 4). Depth 32 is far beyond any X.509 or PKCS#10
 * structure; the node limit bounds work per request.
 */
const LIMITS = { maxDepth: 32, maxNodes: 4096, parseEmbedded: false } as const;

/**
 * Decodes exactly one DER/BER element spanning all of `bytes` (trailing garbage is an error,
 * so two different byte strings never decode to the same value without notice).
 */
export function decodeDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  let parsed: asn1js.FromBerResult;
  try {
    parsed = asn1js.fromBER(bytes, LIMITS);
  } catch (cause) {
    throw new DecodeError(`malformed ${what}`, { cause });
  }
  if (parsed.offset === -1 || parsed.result.error)
    throw new DecodeError(`malformed ${what}: ${parsed.result.error}`);
  if (parsed.offset !== bytes.byteLength) throw new DecodeError(`trailing data after ${what}`);
  return parsed.result;
}

/** The exact encoding bytes an asn1js block was decoded from. */
export function encodedBytes(block: asn1js.AsnType): Buffer {
  const view = (block as asn1js.BaseBlock).valueBeforeDecodeView;
  if (view && view.byteLength > 0) return Buffer.from(view);
  return Buffer.from(block.toBER(false));
}

export function toBuffer(ab: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(ab) ? Buffer.from(ab.buffer, ab.byteOffset, ab.byteLength) : Buffer.from(ab);
}

/** Children of a SEQUENCE/SET, or DecodeError when `block` is not constructed. */
export function childrenOf(block: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  const value = (block as asn1js.Constructed | undefined)?.valueBlock?.value;
  if (!Array.isArray(value) || !(block as asn1js.BaseBlock).idBlock.isConstructed) {
    throw new DecodeError(`${what}: expected a constructed element`);
  }
  return value as asn1js.AsnType[];
}

export function expectOid(block: asn1js.AsnType | undefined, what: string): string {
  if (!(block instanceof asn1js.ObjectIdentifier)) throw new DecodeError(`${what}: expected an OID`);
  return block.valueBlock.toString();
}

export function isContextTag(block: asn1js.AsnType | undefined, tag: number): boolean {
  const id = (block as asn1js.BaseBlock | undefined)?.idBlock;
  return !!id && id.tagClass === 3 && id.tagNumber === tag;
}

/** Raw content octets of a primitive (implicitly tagged) element. */
export function primitiveContent(block: asn1js.AsnType): Buffer {
  const hex = (block as asn1js.Primitive).valueBlock?.valueHexView;
  if (!hex) throw new DecodeError('expected a primitive element');
  return Buffer.from(hex);
}
