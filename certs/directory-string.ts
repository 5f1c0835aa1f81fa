import { DecodeError } from '../core/errors.js';
import { type AsnNode, contentOf } from './der-reader.js';

/** UTF8String (12) and the time types X.680 defines over it (14 TIME, 31–34): strict UTF-8. */
const UTF8_TAGS = new Set([12, 14, 31, 32, 33, 34]);
/** Numeric, Printable, Teletex, Videotex, IA5, Graphic, Visible, General, Character: one octet per char. */
const OCTET_TAGS = new Set([18, 19, 20, 21, 22, 25, 26, 27, 29]);
const UNIVERSAL_STRING = 28;
const BMP_STRING = 30;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The text of a primitive ASN.1 string of any of the types a DirectoryString or attribute value
 * may use (RFC 5280 §4.1.2.4, RFC 2985 §5.4.1), or undefined when `node` is not such a string
 * (the caller then prints it as "#hex", RFC 4514 §2.4, or refuses it). Decoding matches what
 * asn1js did here before: UTF-8 falling back to Latin-1 when invalid, BMPString as UTF-16BE code
 * units, UniversalString as UTF-32BE with U+FFFD for what is not a Unicode scalar value.
 */
export function directoryStringValue(node: AsnNode): string | undefined {
  if (node.tagClass !== 0 || node.constructed) return undefined;
  const tag = node.tagNumber;
  if (OCTET_TAGS.has(tag)) return latin1(node);
  if (UTF8_TAGS.has(tag)) return utf8OrLatin1(node);
  if (tag === BMP_STRING) return utf16be(contentOf(node));
  if (tag === UNIVERSAL_STRING) return utf32be(contentOf(node));
  return undefined;
}

function latin1(node: AsnNode): string {
  return node.source.toString('latin1', node.contentStart, node.contentEnd);
}

function utf8OrLatin1(node: AsnNode): string {
  const { source, contentStart, contentEnd } = node;
  let ascii = true;
  for (let i = contentStart; i < contentEnd && ascii; i++) ascii = source[i]! < 0x80;
  if (ascii) return latin1(node); // the common case, and the same text either way
  try {
    return strictUtf8.decode(contentOf(node));
  } catch {
    return latin1(node);
  }
}

function utf16be(bytes: Buffer): string {
  if (bytes.length % 2 !== 0) throw new DecodeError('BMPString of odd length');
  let out = '';
  for (let i = 0; i < bytes.length; i += 2) out += String.fromCharCode(bytes.readUInt16BE(i));
  return out;
}

const MAX_CODE_POINT = 0x10ffff;
const REPLACEMENT = 0xfffd;

function utf32be(bytes: Buffer): string {
  if (bytes.length % 4 !== 0) throw new DecodeError('UniversalString length not a multiple of 4');
  const codePoints: number[] = [];
  const count = bytes.length / 4;
  for (let i = 0; i < count; i++) {
    const cp = bytes.readUInt32BE(i * 4);
    if (cp > MAX_CODE_POINT) codePoints.push(REPLACEMENT);
    else if (cp >= 0xd800 && cp <= 0xdfff) {
      // A surrogate pair spelled as two code points is joined; a lone surrogate is replaced.
      const next = i + 1 < count ? bytes.readUInt32BE((i + 1) * 4) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        codePoints.push(0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00));
        i++;
      } else codePoints.push(REPLACEMENT);
    } else codePoints.push(cp);
  }
  let out = '';
  for (let i = 0; i < codePoints.length; i += 8192)
    out += String.fromCodePoint(...codePoints.slice(i, i + 8192));
  return out;
}
