import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { DecodeError } from '../core/errors.js';
import { decodeDer, encodedBytes, toBuffer } from './asn1.js';
import type { DistinguishedName } from './csr.js';
import {
  ia5String,
  objectIdentifier,
  printableString,
  sequence,
  setInOrder,
  utf8String,
} from './der-writer.js';
import { nameFromDer } from './name-from-der.js';
import { dnAttributeOid, Oid } from './oids.js';
import { decodeX509Der } from './x509-der.js';

export type { DistinguishedName, NameAttribute } from './csr.js';
export { nameFromDer, nameFromNode } from './name-from-der.js';
export { escapeValue, formatRfc4514 } from './rfc4514-format.js';

/** Longest DN text we parse; real subjects are a few hundred characters. */
const MAX_DN_TEXT = 8192;

// ---------------------------------------------------------------------------------------------
// asn1js adapters (CRL and pkijs code; the per-request paths use nameFromDer / nameFromNode)

/** Same as nameFromDer, from an already decoded asn1js block (keeps the original encoding). */
export function nameFromAsn1(block: asn1js.AsnType): DistinguishedName {
  return nameFromDer(encodedBytes(block));
}

/** From a pkijs RelativeDistinguishedNames (e.g. `certificate.subject`). */
export function nameFromPkijs(rdns: pkijs.RelativeDistinguishedNames): DistinguishedName {
  const der =
    rdns.valueBeforeDecode.byteLength > 0
      ? toBuffer(rdns.valueBeforeDecode)
      : toBuffer(rdns.toSchema().toBER());
  return nameFromDer(der);
}

// ---------------------------------------------------------------------------------------------
// RFC 4514 parsing

interface ParsedAttribute {
  oid: string;
  value: string;
  /** BER of the value when written as "#hex". */
  ber?: Buffer;
}

/**
 * Parses an RFC 4514 string ("CN=Outpost Root CA,O=Outpost") into a DistinguishedName with
 * a freshly encoded DER Name, ready to put into a certificate. Lenient on spaces around
 * separators and '=' (as OpenSSL and Windows print them); ';' is accepted as a separator (RFC 2253 §4).
 */
export function parseDn(text: string): DistinguishedName {
  const textOrder = parseDnText(text);
  const rdns = textOrder.slice().reverse();
  return nameFromDer(sequence(...rdns.map(encodeRdn)));
}

/** Parses RFC 4514 text into RDNs in text order (most specific first), without encoding. */
export function parseDnText(text: string): ParsedAttribute[][] {
  if (text.length > MAX_DN_TEXT) throw new DecodeError('distinguished name too long');
  const scanner = new DnScanner(text);
  const rdns: ParsedAttribute[][] = [];
  if (scanner.atEnd()) return rdns;
  let rdn: ParsedAttribute[] = [];
  for (;;) {
    rdn.push(scanner.attribute());
    const sep = scanner.separator();
    if (sep === '+') continue;
    rdns.push(rdn);
    rdn = [];
    if (sep === undefined) return rdns;
  }
}

class DnScanner {
  private pos = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    this.skipSpaces();
    return this.pos >= this.s.length;
  }

  attribute(): ParsedAttribute {
    this.skipSpaces();
    const eq = this.s.indexOf('=', this.pos);
    if (eq < 0) throw new DecodeError(`DN: missing '=' at ${this.pos}`);
    const type = this.s.slice(this.pos, eq).trim();
    const oid = dnAttributeOid(type);
    if (!oid) throw new DecodeError(`DN: unknown attribute type "${type}"`);
    this.pos = eq + 1;
    this.skipSpaces();
    return this.s[this.pos] === '#' ? this.hexValue(oid) : { oid, value: this.stringValue() };
  }

  /** Consumes ',', ';' or '+' and returns it; undefined at the end. */
  separator(): string | undefined {
    this.skipSpaces();
    if (this.pos >= this.s.length) return undefined;
    const c = this.s[this.pos++]!;
    if (c === ',' || c === ';' || c === '+') return c === ';' ? ',' : c;
    throw new DecodeError(`DN: unexpected '${c}' at ${this.pos - 1}`);
  }

  private hexValue(oid: string): ParsedAttribute {
    const start = ++this.pos;
    while (this.pos < this.s.length && /[0-9a-fA-F]/.test(this.s[this.pos]!)) this.pos++;
    const hex = this.s.slice(start, this.pos);
    if (hex.length === 0 || hex.length % 2 !== 0) throw new DecodeError('DN: bad #hex value');
    const ber = Buffer.from(hex, 'hex');
    decodeX509Der(ber, 'DN #hex value');
    return { oid, value: `#${hex.toLowerCase()}`, ber };
  }

  /** Reads up to an unescaped separator; \X escapes a special, \HH a UTF-8 byte (RFC 4514 §3). */
  private stringValue(): string {
    const bytes: number[] = [];
    let trailingUnescapedSpaces = 0;
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === ',' || c === '+' || c === ';') break;
      if (c === '\\') {
        this.readEscape(bytes);
        trailingUnescapedSpaces = 0;
        continue;
      }
      if (c === '"') throw new DecodeError("DN: unescaped '\"'");
      // One code point, not one UTF-16 unit: a character beyond the BMP (emoji, rare CJK) is a
      // surrogate pair, and encoding its halves separately would turn it into two U+FFFD.
      const ch = String.fromCodePoint(this.s.codePointAt(this.pos)!);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      trailingUnescapedSpaces = c === ' ' ? trailingUnescapedSpaces + 1 : 0;
      this.pos += ch.length;
    }
    const value = Buffer.from(bytes.slice(0, bytes.length - trailingUnescapedSpaces));
    const decoded = new TextDecoder('utf-8', { fatal: true });
    try {
      return decoded.decode(value);
    } catch (cause) {
      throw new DecodeError('DN: escaped bytes are not UTF-8', { cause });
    }
  }

  private readEscape(bytes: number[]): void {
    const next = this.s.slice(this.pos + 1, this.pos + 3);
    if (/^[0-9a-fA-F]{2}$/.test(next)) {
      bytes.push(Number.parseInt(next, 16));
      this.pos += 3;
      return;
    }
    const cp = this.s.codePointAt(this.pos + 1);
    if (cp === undefined) throw new DecodeError('DN: dangling backslash');
    const c = String.fromCodePoint(cp);
    for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    this.pos += 1 + c.length;
  }

  private skipSpaces(): void {
    while (this.s[this.pos] === ' ') this.pos++;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding (for certificates we build)

/** RDN ::= SET OF AttributeTypeAndValue, attributes in the order written (as OpenSSL does). */
function encodeRdn(rdn: ParsedAttribute[]): Buffer {
  return setInOrder(...rdn.map((a) => sequence(objectIdentifier(a.oid), encodeValue(a))));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * String type per attribute: countryName, serialNumber and dnQualifier are PrintableString by
 * definition (X.520), emailAddress and domainComponent IA5String (RFC 2985, RFC 4519 §2.4),
 * everything else UTF8String (RFC 5280 §4.1.2.6: "MUST use UTF8String" for new certificates).
 * A "#hex" value is spliced as written (validated as one BER element by the scanner).
 */
function encodeValue(a: ParsedAttribute): Buffer {
  if (a.ber) return a.ber;
  switch (a.oid) {
    case Oid.countryName:
    case Oid.serialNumber:
    case Oid.dnQualifier:
      if (PRINTABLE.test(a.value)) return printableString(a.value);
      if (a.oid === Oid.countryName) throw new DecodeError('DN: country must be printable');
      return utf8String(a.value);
    case Oid.emailAddress:
    case Oid.domainComponent:
      // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is the 7-bit range
      if (!/^[\x00-\x7f]*$/.test(a.value)) throw new DecodeError('DN: email/DC must be ASCII');
      return ia5String(a.value);
    default:
      return utf8String(a.value);
  }
}

/** A pkijs RelativeDistinguishedNames carrying exactly `dn.der` (for pkijs TBS structures). */
export function nameToPkijs(dn: DistinguishedName): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({ schema: decodeDer(dn.der, 'Name') });
}

// ---------------------------------------------------------------------------------------------
// Comparison

/**
 * A comparison key for a DN: attribute types as OIDs, values trimmed, inner whitespace collapsed and
 * case-folded (RFC 4518 §2 simplified: no full Unicode prep), attributes of a multi-valued RDN
 * sorted (a SET is unordered), RDN order kept (RFC 5280 §7.1).
 */
export function normalizeDn(dn: string | DistinguishedName): string {
  const rdns: Array<Array<{ oid: string; value: string }>> =
    typeof dn === 'string' ? parseDnText(dn) : dn.rdns.slice().reverse();
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => `${a.oid}=${normalizeValue(a.value)}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

function normalizeValue(value: string): string {
  return value
    .normalize('NFKC')
    .trim()
    .replace(/\s+/g, ' ')
    .toLowerCase()
    .replace(/[\\,+=]/g, (c) => `\\${c}`);
}

export function dnEquals(a: string | DistinguishedName, b: string | DistinguishedName): boolean {
  return normalizeDn(a) === normalizeDn(b);
}
