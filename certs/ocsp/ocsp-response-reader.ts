import type { KeyObject } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import { verifyWithAlgorithm } from '../algorithms.js';
import { CRL_REASON_CODES, type CrlReason } from '../crl.js';
import {
  type AsnNode,
  bitStringValue,
  contentOf,
  contextItems,
  decoding,
  explicitItem,
  isContextTag,
  isUniversal,
  octetsValue,
  oidValue,
  parseDer,
  rawDer,
  sequenceItems,
} from '../der-reader.js';
import { timeValue } from '../der-time.js';
import { extensionsFromNode } from '../extension-decoders.js';
import { Oid } from '../oids.js';
import { type CertId, certIdFromNode } from './cert-id.js';
import { type CertStatus, OCSP_RESPONSE_STATUS, type OcspResponseStatus } from './ocsp-response.js';

/** Bounds for a response we read (a client's view, and our own tests). */
export const OCSP_RESPONSE_LIMITS = {
  maxBytes: 64 * 1024,
  maxResponses: 64,
  maxCerts: 8,
  maxDepth: 24,
  maxNodes: 8192,
} as const;

export interface ParsedSingleResponse {
  certId: CertId;
  status: CertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface ParsedBasicResponse {
  /** Signed bytes, algorithm and signature, for basicResponseSignedBy. */
  tbsDer: Buffer;
  signatureAlgorithm: AsnNode;
  signature: Buffer;
  /** ResponderID: byKey hash, or the DER of the byName Name. */
  responderKeyHash?: Buffer;
  responderNameDer?: Buffer;
  producedAt: Date;
  responses: ParsedSingleResponse[];
  /** The nonce extension's extnValue. */
  nonce?: Buffer;
  certs: Buffer[];
}

export interface ParsedOcspResponse {
  status: OcspResponseStatus;
  basic?: ParsedBasicResponse;
}

const STATUS_NAMES = new Map<number, OcspResponseStatus>(
  Object.entries(OCSP_RESPONSE_STATUS).map(([name, code]) => [code, name as OcspResponseStatus]),
);
const REASON_NAMES = new Map<number, CrlReason>(
  Object.entries(CRL_REASON_CODES).map(([name, code]) => [code, name as CrlReason]),
);
const ENUMERATED = 10;

/** Reads an OCSPResponse (RFC 6960 §4.2.1) with a BasicOCSPResponse. Throws only DecodeError. */
export function parseOcspResponse(der: Uint8Array): ParsedOcspResponse {
  const bytes = Buffer.from(der);
  return decoding('OCSPResponse', () => {
    const root = parseDer(bytes, 'OCSPResponse', OCSP_RESPONSE_LIMITS.maxBytes, OCSP_RESPONSE_LIMITS);
    const [statusNode, responseBytes] = sequenceItems(root, 'OCSPResponse', 1, 2);
    const status = STATUS_NAMES.get(enumerated(statusNode, 'responseStatus'));
    if (status === undefined) throw new DecodeError('OCSPResponse: unknown status');
    if (!responseBytes) return { status };
    const [type, response] = sequenceItems(
      explicitItem(responseBytes, 0, 'responseBytes'),
      'ResponseBytes',
      2,
    );
    if (oidValue(type, 'responseType') !== Oid.ocspBasic)
      throw new DecodeError('OCSPResponse: not a basic response');
    const inner = parseDer(
      octetsValue(response, 'response'),
      'BasicOCSPResponse',
      bytes.length,
      OCSP_RESPONSE_LIMITS,
    );
    return { status, basic: basicResponse(inner) };
  });
}

/** Whether the BasicOCSPResponse carries a valid signature by `publicKey`. */
export function basicResponseSignedBy(basic: ParsedBasicResponse, publicKey: KeyObject): boolean {
  return verifyWithAlgorithm(basic.signatureAlgorithm, basic.tbsDer, basic.signature, publicKey);
}

function basicResponse(node: AsnNode): ParsedBasicResponse {
  const [tbs, algorithm, signature, certs] = sequenceItems(node, 'BasicOCSPResponse', 3, 4);
  const fields = sequenceItems(tbs, 'ResponseData', 3, 5);
  let at = 0;
  if (isContextTag(fields[at], 0)) at++; // version DEFAULT v1
  const responder = fields[at++]!;
  const producedAt = timeValue(fields[at++], 'producedAt');
  const list = sequenceItems(fields[at++], 'responses', 0, OCSP_RESPONSE_LIMITS.maxResponses);
  const parsed: ParsedBasicResponse = {
    tbsDer: rawDer(tbs!),
    signatureAlgorithm: algorithm!,
    signature: bitStringValue(signature, 'signature').bytes,
    producedAt,
    responses: list.map(singleResponse),
    certs: certs
      ? sequenceItems(explicitItem(certs, 0, 'certs'), 'certs', 0, OCSP_RESPONSE_LIMITS.maxCerts).map(rawDer)
      : [],
    ...responderId(responder),
  };
  if (isContextTag(fields[at], 1)) {
    const nonce = extensionsFromNode(explicitItem(fields[at], 1, 'responseExtensions')).find(
      (e) => e.oid === Oid.ocspNonce,
    );
    if (nonce) parsed.nonce = nonce.value;
    at++;
  }
  if (at !== fields.length) throw new DecodeError('ResponseData: unexpected field');
  return parsed;
}

function responderId(node: AsnNode): Pick<ParsedBasicResponse, 'responderKeyHash' | 'responderNameDer'> {
  if (isContextTag(node, 1)) return { responderNameDer: rawDer(explicitItem(node, 1, 'byName')) };
  if (isContextTag(node, 2))
    return { responderKeyHash: octetsValue(explicitItem(node, 2, 'byKey'), 'byKey') };
  throw new DecodeError('ResponderID: neither byName nor byKey');
}

function singleResponse(node: AsnNode): ParsedSingleResponse {
  const [certId, status, thisUpdate, ...optional] = sequenceItems(node, 'SingleResponse', 3, 5);
  const parsed: ParsedSingleResponse = {
    certId: certIdFromNode(certId),
    status: certStatus(status),
    thisUpdate: timeValue(thisUpdate, 'thisUpdate'),
  };
  for (const field of optional) {
    if (isContextTag(field, 0))
      parsed.nextUpdate = timeValue(explicitItem(field, 0, 'nextUpdate'), 'nextUpdate');
    else if (!isContextTag(field, 1)) throw new DecodeError('SingleResponse: unexpected field');
  }
  return parsed;
}

function certStatus(node: AsnNode | undefined): CertStatus {
  if (isContextTag(node, 0)) return { kind: 'good' };
  if (isContextTag(node, 2)) return { kind: 'unknown' };
  const [time, reason] = contextItems(node, 1, 'RevokedInfo', 2);
  const revoked: CertStatus = { kind: 'revoked', revokedAt: timeValue(time, 'revocationTime') };
  if (reason) {
    const name = REASON_NAMES.get(
      enumerated(explicitItem(reason, 0, 'revocationReason'), 'revocationReason'),
    );
    if (name === undefined) throw new DecodeError('RevokedInfo: unknown reason');
    revoked.reason = name;
  }
  return revoked;
}

function enumerated(node: AsnNode | undefined, what: string): number {
  if (!isUniversal(node, ENUMERATED) || node.constructed || node.contentEnd - node.contentStart !== 1)
    throw new DecodeError(`${what}: expected a small ENUMERATED`);
  return contentOf(node)[0]!;
}
