import { DecodeError } from '../../core/errors.js';
import { type CmsIdentifier, readCmsIdentifier, rememberParsedCertificate } from './certificate-ref.js';
import { unwrapContentInfo } from './content-info.js';
import {
  type AsnNode,
  contextItems,
  decoding,
  explicitItem,
  isContextTag,
  isSequence,
  octetsValue,
  oidValue,
  rawDer,
  sequenceItems,
  setItems,
  smallIntegerValue,
} from './der-reader.js';
import { retag } from './der-writer.js';
import { Oid } from './oids.js';

export interface AlgorithmIdentifier {
  oid: string;
  /** DER of the parameters, when present. */
  parametersDer?: Buffer;
}

export interface DecodedSignerInfo {
  sid: CmsIdentifier;
  digestAlgorithm: AlgorithmIdentifier;
  signatureAlgorithm: AlgorithmIdentifier;
  /** The signed attributes as the DER SET OF that the signature covers (RFC 5652 §5.4); undefined if absent. */
  signedAttrsDer?: Buffer;
  /** attribute OID → DER of each value. */
  signedAttributes: Map<string, Buffer[]>;
  signature: Buffer;
}

export interface DecodedSignedData {
  encapContentType: string;
  /** eContent octets; undefined for detached or content-less messages (SCEP PENDING/FAILURE). */
  content?: Buffer;
  /** DER of each Certificate in `certificates`, in message order (other CertificateChoices skipped). */
  certificates: Buffer[];
  /** DER of each CRL in `crls`. */
  crls: Buffer[];
  signers: DecodedSignerInfo[];
}

export interface DecodeLimits {
  maxBytes: number;
}

const MAX_CERTIFICATES = 32;
const MAX_CRLS = 8;
const MAX_SIGNERS = 8;
const MAX_ATTRIBUTES = 64;
const MAX_ATTRIBUTE_VALUES = 16;
const MAX_DIGEST_ALGORITHMS = 8;

/** Decodes a ContentInfo carrying SignedData (RFC 5652 §5). Verifies nothing; see verifySignerInfo. */
export function decodeSignedData(der: Uint8Array, limits: DecodeLimits): DecodedSignedData {
  return decoding('SignedData', () => {
    const signedData = unwrapContentInfo(der, Oid.signedData, 'SignedData', limits.maxBytes);
    return readSignedData(signedData);
  });
}

function readSignedData(node: AsnNode): DecodedSignedData {
  const fields = sequenceItems(node, 'SignedData', 4, 6);
  smallIntegerValue(fields[0], 'SignedData version');
  setItems(fields[1], 'digestAlgorithms', MAX_DIGEST_ALGORITHMS);
  const { encapContentType, content } = readEncapContentInfo(fields[2]);
  let at = 3;
  const certificates = isContextTag(fields[at], 0) ? readCertificates(fields[at++]!) : [];
  const crls = isContextTag(fields[at], 1) ? contextItems(fields[at++], 1, 'crls', MAX_CRLS).map(rawDer) : [];
  if (at !== fields.length - 1) throw new DecodeError('SignedData: unexpected fields');
  const signers = setItems(fields[at], 'signerInfos', MAX_SIGNERS).map(readSignerInfo);
  return { encapContentType, content, certificates, crls, signers };
}

function readEncapContentInfo(node: AsnNode | undefined): { encapContentType: string; content?: Buffer } {
  const [type, wrapped] = sequenceItems(node, 'encapContentInfo', 1, 2);
  const encapContentType = oidValue(type, 'eContentType');
  if (wrapped === undefined) return { encapContentType };
  return { encapContentType, content: octetsValue(explicitItem(wrapped, 0, 'eContent'), 'eContent') };
}

function readCertificates(node: AsnNode): Buffer[] {
  const certificates: Buffer[] = [];
  for (const choice of contextItems(node, 0, 'certificates', MAX_CERTIFICATES)) {
    // CertificateChoices: only the plain Certificate (a SEQUENCE) is of use; [n] alternatives skipped
    if (!isSequence(choice)) continue;
    const der = rawDer(choice);
    rememberParsedCertificate(der, choice);
    certificates.push(der);
  }
  return certificates;
}

function readSignerInfo(node: AsnNode): DecodedSignerInfo {
  const fields = sequenceItems(node, 'SignerInfo', 5, 7);
  smallIntegerValue(fields[0], 'SignerInfo version');
  const sid = readCmsIdentifier(fields[1], 'SignerInfo sid');
  const digestAlgorithm = readAlgorithmIdentifier(fields[2], 'digestAlgorithm');
  let at = 3;
  let signedAttrsDer: Buffer | undefined;
  let signedAttributes = new Map<string, Buffer[]>();
  if (isContextTag(fields[at], 0)) {
    const attrsNode = fields[at++]!;
    signedAttributes = readAttributes(attrsNode);
    // the signature covers the EXPLICIT SET OF encoding, not the [0] IMPLICIT one (RFC 5652 §5.4)
    signedAttrsDer = retag(rawDer(attrsNode), 0x31);
  }
  const signatureAlgorithm = readAlgorithmIdentifier(fields[at++], 'signatureAlgorithm');
  const signature = octetsValue(fields[at++], 'signature');
  if (at < fields.length && !isContextTag(fields[at], 1))
    throw new DecodeError('SignerInfo: unexpected fields');
  return { sid, digestAlgorithm, signatureAlgorithm, signedAttrsDer, signedAttributes, signature };
}

export function readAlgorithmIdentifier(node: AsnNode | undefined, what: string): AlgorithmIdentifier {
  const [oid, parameters] = sequenceItems(node, what, 1, 2);
  return { oid: oidValue(oid, what), parametersDer: parameters ? rawDer(parameters) : undefined };
}

function readAttributes(node: AsnNode): Map<string, Buffer[]> {
  const attributes = new Map<string, Buffer[]>();
  for (const attribute of contextItems(node, 0, 'signedAttrs', MAX_ATTRIBUTES)) {
    const [type, values] = sequenceItems(attribute, 'Attribute', 2);
    const oid = oidValue(type, 'attrType');
    // RFC 5652 §5.3: an attribute type appears at most once in signedAttrs
    if (attributes.has(oid)) throw new DecodeError(`signedAttrs: duplicate attribute ${oid}`);
    attributes.set(oid, setItems(values, 'attrValues', MAX_ATTRIBUTE_VALUES).map(rawDer));
  }
  return attributes;
}
