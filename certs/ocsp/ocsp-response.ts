import { signatureAlgorithmDer } from '../algorithms.js';
import { CRL_REASON_CODES, type CrlReason } from '../crl.js';
import {
  bitString,
  contextConstructed,
  contextPrimitive,
  objectIdentifier,
  octetString,
  sequence,
  tlv,
} from '../der-writer.js';
import { Oid } from '../oids.js';
import type { HashName, Signer } from '../signer.js';
import { generalizedTime } from './generalized-time.js';

/** OCSPResponseStatus (RFC 6960 §4.2.1); 4 is not used. */
export const OCSP_RESPONSE_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

export type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUS;
export type OcspErrorStatus = Exclude<OcspResponseStatus, 'successful'>;

/** CertStatus (§4.2.1): revocation time and reason come from the inventory. */
export type CertStatus =
  | { kind: 'good' }
  | { kind: 'revoked'; revokedAt: Date; reason?: CrlReason }
  | { kind: 'unknown' };

export interface SingleResponseTemplate {
  /** The CertID as the client sent it (certs/ocsp/cert-id.ts). */
  certIdDer: Uint8Array;
  status: CertStatus;
  thisUpdate: Date;
  nextUpdate?: Date;
}

export interface BasicResponseTemplate {
  /** ResponderID byKey: SHA-1 of the signing key's public key bits (§4.2.1). */
  responderKeyHash: Uint8Array;
  producedAt: Date;
  responses: SingleResponseTemplate[];
  /** The request's nonce extnValue, echoed unchanged (RFC 8954 §2.1). */
  nonce?: Uint8Array;
  /** Certificates that help the client verify the signature: the delegated signer (§4.2.2.2). */
  certs?: Uint8Array[];
}

const ENUMERATED = 0x0a;
const GOOD = contextPrimitive(0, Buffer.alloc(0)); // good [0] IMPLICIT NULL
const UNKNOWN = contextPrimitive(2, Buffer.alloc(0)); // unknown [2] IMPLICIT UnknownInfo (NULL)

/**
 * An OCSPResponse carrying a signed BasicOCSPResponse (RFC 6960 §4.2.1). ResponseData is v1, so
 * its version field is omitted (DEFAULT). Returns the DER to send as application/ocsp-response.
 */
export function buildOcspResponse(t: BasicResponseTemplate, signer: Signer, hash: HashName): Buffer {
  const extensions = t.nonce
    ? [contextConstructed(1, sequence(sequence(objectIdentifier(Oid.ocspNonce), octetString(t.nonce))))]
    : [];
  const tbs = sequence(
    contextConstructed(2, octetString(t.responderKeyHash)), // responderID byKey [2] EXPLICIT KeyHash
    generalizedTime(t.producedAt),
    sequence(...t.responses.map(singleResponse)),
    ...extensions,
  );
  const algorithm = signatureAlgorithmDer(signer.keyType, hash);
  const certs = t.certs?.length ? [contextConstructed(0, sequence(...t.certs))] : [];
  const basic = sequence(tbs, algorithm, bitString(0, signer.sign(tbs, hash)), ...certs);
  return sequence(
    status(OCSP_RESPONSE_STATUS.successful),
    contextConstructed(0, sequence(objectIdentifier(Oid.ocspBasic), octetString(basic))),
  );
}

/** An unsuccessful OCSPResponse: the status alone, no responseBytes and so no signature (§2.3). */
export function ocspErrorResponse(s: OcspErrorStatus): Buffer {
  return sequence(status(OCSP_RESPONSE_STATUS[s]));
}

function status(code: number): Buffer {
  return tlv(ENUMERATED, Uint8Array.of(code));
}

function singleResponse(r: SingleResponseTemplate): Buffer {
  return sequence(
    r.certIdDer,
    certStatus(r.status),
    generalizedTime(r.thisUpdate),
    ...(r.nextUpdate ? [contextConstructed(0, generalizedTime(r.nextUpdate))] : []),
  );
}

function certStatus(s: CertStatus): Buffer {
  if (s.kind === 'good') return GOOD;
  if (s.kind === 'unknown') return UNKNOWN;
  // revoked [1] IMPLICIT RevokedInfo { revocationTime, revocationReason [0] EXPLICIT CRLReason }.
  // Like the CRL (RFC 5280 §5.3.1), the reason is left out rather than written as unspecified.
  const code = s.reason === undefined ? undefined : CRL_REASON_CODES[s.reason];
  if (s.reason !== undefined && code === undefined) throw new RangeError(`unknown reason ${s.reason}`);
  const reason = code ? [contextConstructed(0, tlv(ENUMERATED, Uint8Array.of(code)))] : [];
  return contextConstructed(1, generalizedTime(s.revokedAt), ...reason);
}
