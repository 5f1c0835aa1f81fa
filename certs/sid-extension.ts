import { DecodeError } from '../core/errors.js';
import { contentOf, isContextTag, isUniversal, oidValue } from './der-reader.js';
import { contextConstructed, objectIdentifier, octetString, sequence } from './der-writer.js';
import { childNodes, decodeX509Der } from './x509-der.js';

/**
 * Certificate-to-account "strong mapping" that Windows domain controllers enforce since
 * KB5014754 (May 2022; full enforcement 2025): the certificate names the account's SID, either in
 * the szOID_NTDS_CA_SECURITY_EXT extension that AD CS writes, or (for CAs that cannot add custom
 * extensions) as a SAN URI `tag:microsoft.com,2022-09-14:sid:<SID>`.
 */
export const SidOid = {
  /** szOID_NTDS_CA_SECURITY_EXT, non-critical. */
  extension: '1.3.6.1.4.1.311.25.2',
  /** szOID_NTDS_OBJECTSID: the otherName type-id inside it. */
  objectSid: '1.3.6.1.4.1.311.25.2.1',
} as const;

/** The SAN URI prefix of KB5014754's second mapping form. */
export const SID_URI_PREFIX = 'tag:microsoft.com,2022-09-14:sid:';

/** Longest SID text: "S-1-" + 15 digits of a 48-bit authority + 15 × ("-" + 10 digits). */
const MAX_SID_CHARS = 4 + 15 + 15 * 11;
/** The extension holds one short otherName; anything much larger is not ours to read. */
const MAX_EXTENSION_BYTES = 512;
const SID_TEXT = /^S-1-(0|[1-9]\d{0,14})((?:-(?:0|[1-9]\d{0,9})){0,15})$/;

/**
 * Checks the textual SID form (MS-DTYP §2.4.2.1): revision 1, a 48-bit identifier authority,
 * at most 15 sub-authorities of 32 bits, decimal without leading zeros (what Windows prints and
 * compares). Returns the text unchanged.
 */
export function checkSidText(sid: string): string {
  const m = sid.length <= MAX_SID_CHARS ? SID_TEXT.exec(sid) : null;
  if (!m) throw new DecodeError('SID: expected S-1-<authority>[-<sub-authority>]… (MS-DTYP §2.4.2.1)');
  if (Number(m[1]) >= 2 ** 48) throw new DecodeError('SID: identifier authority exceeds 48 bits');
  const subs = m[2] ? m[2].slice(1).split('-') : [];
  if (subs.some((s) => Number(s) > 0xffffffff)) throw new DecodeError('SID: sub-authority exceeds 32 bits');
  return sid;
}

/**
 * extnValue of szOID_NTDS_CA_SECURITY_EXT as AD CS writes it:
 *   SEQUENCE OF GeneralName, one otherName { type-id szOID_NTDS_OBJECTSID,
 *                                            value [0] EXPLICIT OCTET STRING (ASCII SID) }
 * i.e. 30 L a0 L 06 0a 2b0601040182371902 01 a0 L 04 L "S-1-5-21-…".
 */
export function encodeSidExtension(sid: string): Buffer {
  const ascii = Buffer.from(checkSidText(sid), 'latin1');
  return sequence(
    contextConstructed(0, objectIdentifier(SidOid.objectSid), contextConstructed(0, octetString(ascii))),
  );
}

/**
 * The SID inside an szOID_NTDS_CA_SECURITY_EXT value. Strict: exactly one otherName of type
 * szOID_NTDS_OBJECTSID holding a primitive OCTET STRING with a valid SID; DecodeError otherwise.
 */
export function decodeSidExtension(value: Uint8Array): string {
  if (value.length > MAX_EXTENSION_BYTES) throw new DecodeError('SID extension too large');
  const outer = decodeX509Der(value, 'SID extension');
  if (!isUniversal(outer, 16) || !outer.constructed) throw new DecodeError('SID extension: not a SEQUENCE');
  const names = outer.children;
  if (names.length !== 1) throw new DecodeError('SID extension: expected exactly one GeneralName');
  const otherName = names[0]!;
  if (!isContextTag(otherName, 0) || !otherName.constructed) {
    throw new DecodeError('SID extension: expected an otherName [0]');
  }
  const [typeId, wrapped, extra] = childNodes(otherName, 'otherName');
  if (extra !== undefined) throw new DecodeError('SID extension: otherName has extra fields');
  if (oidValue(typeId, 'otherName type-id') !== SidOid.objectSid) {
    throw new DecodeError('SID extension: otherName is not szOID_NTDS_OBJECTSID');
  }
  if (!isContextTag(wrapped, 0)) throw new DecodeError('SID extension: missing [0] value');
  const [octets, more] = childNodes(wrapped, 'otherName value');
  if (more !== undefined || !isUniversal(octets, 4) || octets.constructed) {
    throw new DecodeError('SID extension: value is not one OCTET STRING');
  }
  return checkSidText(contentOf(octets).toString('latin1'));
}

/** The SAN URI of KB5014754's "SID URL" mapping. */
export function sidUri(sid: string): string {
  return `${SID_URI_PREFIX}${checkSidText(sid)}`;
}

/** The SID of a `tag:microsoft.com,2022-09-14:sid:` URI, or undefined for any other URI. */
export function sidFromUri(uri: string): string | undefined {
  if (!uri.startsWith(SID_URI_PREFIX)) return undefined;
  return checkSidText(uri.slice(SID_URI_PREFIX.length));
}
