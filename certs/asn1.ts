import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { tlv } from './der-writer.js';

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

// ---------------------------------------------------------------------------------------------
// Minimal DER writer: splices already-encoded parts (issuer Name, SPKI, extensions) without
// re-parsing them, which keeps certificate issuance off the asn1js object graph on the hot path.

export const Tag = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  sequence: 0x30,
  set: 0x31,
  /** [n] constructed, context-specific: 0xa0 + n. */
  context: (n: number) => 0xa0 + n,
} as const;

export function derTlv(tag: number, ...contents: Uint8Array[]): Buffer {
  return tlv(tag, ...contents); // one allocation per TLV (der-writer.ts)
}

export function derSequence(...parts: Uint8Array[]): Buffer {
  return derTlv(Tag.sequence, ...parts);
}

/** BIT STRING with zero unused bits (signatures, public keys). */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(Tag.bitString, Buffer.from([0]), bytes);
}

/** A positive INTEGER from big-endian magnitude bytes, minimally encoded (X.690 §8.3.2). */
export function derPositiveInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = Buffer.from(magnitude.subarray(start));
  const needsPad = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return derTlv(Tag.integer, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise, whole seconds, 'Z' (RFC 5280 §4.1.2.5). */
export function derTime(date: Date): Buffer {
  const iso = new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return derTlv(0x17, Buffer.from(digits.slice(2), 'ascii'));
  return derTlv(0x18, Buffer.from(digits, 'ascii'));
}
