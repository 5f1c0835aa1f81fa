/**
 * A tiny DER encoder. Builders embed ready-made DER (certificates, CSRs, nested ContentInfo) many
 * times per request; asn1js 4 cannot embed raw DER inside a constructed value (its RawData is
 * dropped by Sequence.toBER), and re-parsing the DER just to re-encode it would waste the hot path.
 * Every function returns a finished TLV, so values compose by concatenation only.
 */

/**
 * One allocation per TLV: identifier, length octets (X.690 §8.1.3, definite form, minimal) and
 * contents copied into a buffer of the final size. Issuance writes about fifty TLVs per
 * certificate; concatenating small Buffers for each cost more than the encoding itself.
 */
export function tlv(identifier: number, ...contents: Uint8Array[]): Buffer {
  let length = 0;
  for (const part of contents) length += part.length;
  if (length >= 2 ** 32) throw new RangeError('DER value too long');
  const lengthOctetCount =
    length < 0x80 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
  const out = Buffer.allocUnsafe(2 + lengthOctetCount + length);
  out[0] = identifier;
  let at = 1;
  if (lengthOctetCount === 0) out[at++] = length;
  else {
    out[at++] = 0x80 | lengthOctetCount;
    for (let shift = (lengthOctetCount - 1) * 8; shift >= 0; shift -= 8)
      out[at++] = (length / 2 ** shift) & 0xff;
  }
  for (const part of contents) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, ...items);

/** SET with items in the given order: certificate sets keep the issued cert first (scepclient quirk). */
export const setInOrder = (...items: Uint8Array[]): Buffer => tlv(0x31, ...items);

/** DER SET OF: items sorted by their encodings (X.690 §11.6), e.g. signed attributes. */
export const setOf = (items: readonly Uint8Array[]): Buffer => tlv(0x31, ...[...items].sort(Buffer.compare));

/** [n] EXPLICIT or IMPLICIT-constructed context tag. */
export const contextConstructed = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, ...items);

/** [n] IMPLICIT primitive context tag (e.g. encryptedContent, subjectKeyIdentifier). */
export const contextPrimitive = (n: number, bytes: Uint8Array): Buffer => tlv(0x80 | n, bytes);

export const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, bytes);

export const printableString = (text: string): Buffer => tlv(0x13, Buffer.from(text, 'latin1'));

export const derNull: Buffer = Buffer.from([0x05, 0x00]);

/** IA5String; the caller has checked the text is 7-bit (one octet per character). */
export const ia5String = (text: string): Buffer => tlv(0x16, Buffer.from(text, 'latin1'));

const LONE_SURROGATE = /\p{Cs}/u;

/** UTF8String. Refuses lone surrogates (no UTF-8 for them) instead of writing U+FFFD silently. */
export function utf8String(text: string): Buffer {
  if (LONE_SURROGATE.test(text))
    throw new TypeError('The string contains lone surrogates and cannot be encoded as UTF-8');
  return tlv(0x0c, Buffer.from(text, 'utf8'));
}

/** BOOLEAN TRUE as DER writes it (X.690 §11.1: all bits set). */
export const derTrue: Buffer = Buffer.from([0x01, 0x01, 0xff]);

/** BIT STRING from an unused-bits count and the octets (X.690 §8.6.2). */
export const bitString = (unusedBits: number, bytes: Uint8Array): Buffer =>
  tlv(0x03, Buffer.from([unusedBits]), bytes);

/** INTEGER from an integer, minimal two's complement (X.690 §8.3.2), e.g. pathLenConstraint. */
export function integer(value: number): Buffer {
  if (!Number.isInteger(value)) throw new RangeError(`Integer value must be an integer, got ${value}`);
  const bytes: number[] = [];
  let n = BigInt(value);
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (!(n === 0n && (bytes[0]! & 0x80) === 0) && !(n === -1n && (bytes[0]! & 0x80) !== 0));
  return tlv(0x02, Buffer.from(bytes));
}

/** INTEGER from a small non-negative number (versions). */
export function smallInteger(value: number): Buffer {
  return tlv(0x02, Buffer.from([value & 0x7f]));
}

/** Replaces the identifier octet of an encoded TLV: SET OF ↔ [0] IMPLICIT (RFC 5652 §5.4). */
export function retag(der: Uint8Array, identifier: number): Buffer {
  const copy = Buffer.from(der);
  copy[0] = identifier;
  return copy;
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted text; cached because the same few OIDs are written per message. */
export function objectIdentifier(dotted: string): Buffer {
  let encoded = oidCache.get(dotted);
  if (encoded) return encoded;
  const arcs = dotted.split('.').map(Number);
  const first = arcs[0]! * 40 + arcs[1]!;
  const bytes: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const base128: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) base128.unshift(0x80 | (n & 0x7f));
    bytes.push(...base128);
  }
  encoded = tlv(0x06, Buffer.from(bytes));
  oidCache.set(dotted, encoded);
  return encoded;
}

/** AlgorithmIdentifier; `parameters` omitted when undefined (RFC 5754 §2 for SHA-2). */
export function algorithmIdentifier(oid: string, parameters?: Uint8Array): Buffer {
  return parameters ? sequence(objectIdentifier(oid), parameters) : sequence(objectIdentifier(oid));
}
