import { DecodeError } from '../../core/errors.js';
import {
  type AsnNode,
  decoding,
  explicitItem,
  isContextTag,
  octetsValue,
  parseDer,
  sequenceItems,
  smallIntegerValue,
} from '../der-reader.js';
import { extensionsFromNode } from '../extension-decoders.js';
import { Oid } from '../oids.js';
import { type CertId, certIdFromNode } from './cert-id.js';

/**
 * Bounds for an untrusted OCSPRequest (DESIGN rule 4). A plain request for one certificate is
 * about 100 bytes; a signed one with the requestor's certificate a few KB. Clients ask about one
 * certificate at a time in practice (RFC 5019 §2.1.1 allows only one).
 */
export const OCSP_REQUEST_LIMITS = {
  maxBytes: 16 * 1024,
  maxCertIds: 32,
  maxDepth: 24,
  maxNodes: 2048,
} as const;

/** RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)). */
const MAX_NONCE_BYTES = 32;

export interface OcspRequest {
  certIds: CertId[];
  /**
   * extnValue of the id-pkix-ocsp-nonce extension exactly as received (the DER OCTET STRING),
   * echoed in the response: OpenSSL compares the whole extnValue, not the inner octets.
   */
  nonce?: Buffer;
}

/**
 * Parses an OCSPRequest (RFC 6960 §4.1.1). The optional signature and requestorName are not
 * checked: this responder answers anyone (§4.1.2 makes signing the request optional). Throws only
 * DecodeError, which the responder answers with malformedRequest.
 */
export function parseOcspRequest(der: Uint8Array): OcspRequest {
  // One copy, so the CertIDs echoed later cannot change if the caller reuses its buffer.
  const bytes = Buffer.from(der);
  return decoding('OCSPRequest', () => {
    const root = parseDer(bytes, 'OCSPRequest', OCSP_REQUEST_LIMITS.maxBytes, OCSP_REQUEST_LIMITS);
    const [tbs, signature] = sequenceItems(root, 'OCSPRequest', 1, 2);
    if (signature && !isContextTag(signature, 0)) throw new DecodeError('OCSPRequest: bad optionalSignature');
    return tbsRequest(tbs);
  });
}

function tbsRequest(node: AsnNode | undefined): OcspRequest {
  const fields = sequenceItems(node, 'TBSRequest', 1, 4);
  let at = 0;
  if (isContextTag(fields[at], 0)) {
    // version [0] EXPLICIT Version DEFAULT v1: only v1 (0) exists.
    if (smallIntegerValue(explicitItem(fields[at], 0, 'version'), 'version') !== 0)
      throw new DecodeError('OCSPRequest: unknown version');
    at++;
  }
  if (isContextTag(fields[at], 1)) at++; // requestorName [1] EXPLICIT GeneralName: not used
  const requests = sequenceItems(fields[at++], 'requestList', 1, Number.MAX_SAFE_INTEGER);
  if (requests.length > OCSP_REQUEST_LIMITS.maxCertIds)
    throw new DecodeError('OCSPRequest: too many CertIDs');
  const request: OcspRequest = { certIds: requests.map(singleRequest) };
  if (isContextTag(fields[at], 2)) {
    const nonce = requestExtensions(explicitItem(fields[at], 2, 'requestExtensions'));
    if (nonce) request.nonce = nonce;
    at++;
  }
  if (at !== fields.length) throw new DecodeError('TBSRequest: unexpected field');
  return request;
}

function singleRequest(node: AsnNode): CertId {
  const [certId, extensions] = sequenceItems(node, 'Request', 1, 2);
  if (extensions) {
    // singleRequestExtensions [0]: none is defined that we act on; a critical one we cannot honour.
    for (const ext of extensionsFromNode(explicitItem(extensions, 0, 'singleRequestExtensions')))
      if (ext.critical) throw new DecodeError(`OCSPRequest: unsupported critical extension ${ext.oid}`);
  }
  return certIdFromNode(certId);
}

/** Returns the nonce's extnValue; unknown non-critical extensions are ignored (§4.4). */
function requestExtensions(node: AsnNode): Buffer | undefined {
  let nonce: Buffer | undefined;
  for (const ext of extensionsFromNode(node)) {
    if (ext.oid === Oid.ocspNonce) {
      if (nonce) throw new DecodeError('OCSPRequest: nonce given twice');
      nonce = checkedNonce(ext.value);
    } else if (ext.critical) {
      throw new DecodeError(`OCSPRequest: unsupported critical extension ${ext.oid}`);
    }
  }
  return nonce;
}

/** RFC 8954 §2.1: a nonce longer than 32 octets MUST be rejected with malformedRequest. */
function checkedNonce(extnValue: Buffer): Buffer {
  const inner = octetsValue(parseDer(extnValue, 'Nonce', MAX_NONCE_BYTES + 4), 'Nonce');
  if (inner.length < 1 || inner.length > MAX_NONCE_BYTES)
    throw new DecodeError('OCSPRequest: nonce must be 1 to 32 octets (RFC 8954)');
  return extnValue;
}
