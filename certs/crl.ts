import * as asn1js from 'asn1js';
import { DecodeError } from '../core/errors.js';
import { signatureAlgorithm } from './algorithms.js';
import {
  childrenOf,
  decodeDer,
  derBitString,
  derPositiveInteger,
  derSequence,
  derTime,
  derTlv,
  isContextTag,
  Tag,
  toBuffer,
} from './asn1.js';
import {
  decodeExtensions,
  type Extension,
  encodeAuthorityKeyIdentifier,
  encodeExtension,
} from './extensions.js';
import { Oid } from './oids.js';
import { type ParsedCertificate, parseCertificate } from './parsed-certificate.js';
import type { HashName, Signer } from './signer.js';

/** RFC 5280 §5.3.1 CRLReason values (7 is unused). */
export const CRL_REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type CrlReason = keyof typeof CRL_REASON_CODES;

export interface CrlEntry {
  /** DER INTEGER content octets in hex, as the inventory stores them. */
  serialHex: string;
  revokedAt: Date;
  reason: CrlReason;
}

export interface CrlTemplate {
  /** The CA, parsed once (preferred), or its DER. */
  issuer: ParsedCertificate | Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
  entries: CrlEntry[];
}

/** Builds and signs a v2 CRL (RFC 5280 §5.1) with AKI and cRLNumber; returns the DER. */
export function buildCrl(t: CrlTemplate, signer: Signer, hash: HashName): Buffer {
  const issuer = t.issuer instanceof Uint8Array ? parseCertificate(t.issuer) : t.issuer;
  const algorithm = toBuffer(signatureAlgorithm(signer.keyType, hash).toBER(false));
  const crlExtensions: Extension[] = [
    { oid: Oid.authorityKeyIdentifier, critical: false, value: encodeAuthorityKeyIdentifier(issuer.ski) },
    { oid: Oid.crlNumber, critical: false, value: derPositiveInteger(bigintBytes(t.crlNumber)) },
  ];
  const tbs = derSequence(
    derPositiveInteger(Uint8Array.of(1)), // v2
    algorithm,
    issuer.subject.der,
    derTime(t.thisUpdate),
    derTime(t.nextUpdate),
    // §5.1.2.6: when there are no revoked certificates, the list MUST be absent.
    ...(t.entries.length > 0 ? [derSequence(...t.entries.map(encodeEntry))] : []),
    derTlv(
      Tag.context(0),
      derSequence(...crlExtensions.map((e) => toBuffer(encodeExtension(e).toBER(false)))),
    ),
  );
  return derSequence(tbs, algorithm, derBitString(signer.sign(tbs, hash)));
}

function encodeEntry(entry: CrlEntry): Buffer {
  const parts = [derTlv(Tag.integer, serialBytes(entry.serialHex)), derTime(entry.revokedAt)];
  const code = CRL_REASON_CODES[entry.reason];
  if (code === undefined) throw new DecodeError(`unknown revocation reason ${entry.reason}`);
  // §5.3.1: the reasonCode extension SHOULD be absent instead of using unspecified.
  if (code !== CRL_REASON_CODES.unspecified) {
    const value = derTlv(0x0a, Uint8Array.of(code)); // ENUMERATED
    parts.push(
      derSequence(toBuffer(encodeExtension({ oid: Oid.crlReason, critical: false, value }).toBER(false))),
    );
  }
  return derSequence(...parts);
}

function serialBytes(hex: string): Buffer {
  if (!/^([0-9a-f]{2})+$/i.test(hex) || hex.length > 42) throw new DecodeError(`bad serial ${hex}`);
  return Buffer.from(hex, 'hex');
}

function bigintBytes(n: bigint): Buffer {
  if (n < 0n) throw new DecodeError('negative CRL number');
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/** What a publisher needs to resume from a CRL on disk. */
export interface CrlInfo {
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  revokedCount: number;
}

/** Reads thisUpdate, nextUpdate, cRLNumber and the entry count from a DER CRL (RFC 5280 §5.1). */
export function parseCrlInfo(der: Uint8Array): CrlInfo {
  try {
    const [tbs] = childrenOf(decodeDer(der, 'CertificateList'), 'CertificateList');
    const fields = childrenOf(tbs, 'TBSCertList');
    if (fields[0] instanceof asn1js.Integer) fields.shift(); // version
    const [, , thisUpdate, ...rest] = fields;
    const info: CrlInfo = { thisUpdate: timeOf(thisUpdate), revokedCount: 0 };
    for (const field of rest) {
      if (field instanceof asn1js.UTCTime || field instanceof asn1js.GeneralizedTime)
        info.nextUpdate = field.toDate();
      else if (field instanceof asn1js.Sequence)
        info.revokedCount = childrenOf(field, 'revokedCertificates').length;
      else if (isContextTag(field, 0))
        info.crlNumber = crlNumberOf(decodeExtensions(childrenOf(field, 'crlExtensions')[0]!));
    }
    return info;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError('malformed CRL', { cause: e });
  }
}

function timeOf(block: asn1js.AsnType | undefined): Date {
  if (block instanceof asn1js.UTCTime || block instanceof asn1js.GeneralizedTime) return block.toDate();
  throw new DecodeError('CRL: thisUpdate is not a time');
}

function crlNumberOf(extensions: Extension[]): bigint | undefined {
  const ext = extensions.find((e) => e.oid === Oid.crlNumber);
  if (!ext) return undefined;
  const integer = decodeDer(ext.value, 'CRLNumber');
  if (!(integer instanceof asn1js.Integer)) throw new DecodeError('CRLNumber is not an INTEGER');
  const hex = toBuffer(integer.valueBlock.valueHexView).toString('hex');
  return hex ? BigInt(`0x${hex}`) : 0n;
}
