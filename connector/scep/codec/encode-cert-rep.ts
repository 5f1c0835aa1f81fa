import {
  buildDegenerateCertsOnly,
  buildEnvelopedData,
  buildSignedData,
  type ContentCipherName,
  Oid,
  type SignedAttributeInput,
} from '../../../certs/cms/index.js';
import type { HashName, Signer } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type FailInfo, MessageType, PkiStatus, ScepOid } from './constants.js';
import { chooseReplyCipher } from './reply-cipher.js';
import { octetsAttribute, stringAttribute } from './scep-attributes.js';

export interface CertRepInput {
  status: PkiStatus;
  /** Required when status is FAILURE. */
  failInfo?: FailInfo;
  transactionId: string;
  /** The request's senderNonce (RFC 8894 §3.2.1.5). */
  recipientNonce: Uint8Array;
  /** A fresh nonce (16 random bytes). */
  senderNonce: Uint8Array;
  /** SUCCESS for PKCSReq/RenewalReq/CertPoll/GetCert: the issued certificate FIRST, then its chain. */
  issuedCertsDer?: Uint8Array[];
  /** SUCCESS for GetCRL. */
  crlDer?: Uint8Array;
  /** The request's signer certificate: the SUCCESS envelope is encrypted to it (§3.3.2). */
  requesterCertDer?: Uint8Array;
  /** Signs the CertRep; must be a certificate GetCACert returns (scepclient only trusts those). */
  raCertDer: Uint8Array;
  raSigner: Signer;
  /** Digest of the reply; default sha256, or the request's digest to mirror it. */
  hash?: HashName;
  /** The request's content cipher; the reply cipher is chooseReplyCipher(cipher) unless replyCipher is set. */
  cipher?: ContentCipherName;
  /** Forces the reply's content cipher (tests, peers with known needs). */
  replyCipher?: ContentCipherName;
}

function invalid(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.internal, 'internal error', { detail });
}

/**
 * Encodes a CertRep pkiMessage (RFC 8894 §3.3.2): SignedData signed by the RA with messageType 3,
 * pkiStatus, failInfo (FAILURE only), transactionID, senderNonce and recipientNonce. SUCCESS carries
 * EnvelopedData(degenerate certs-only) encrypted to the requester; PENDING and FAILURE carry no content.
 */
export function encodeCertRep(input: CertRepInput): Buffer {
  const attributes: SignedAttributeInput[] = [
    stringAttribute(ScepOid.messageType, String(MessageType.CertRep)),
    stringAttribute(ScepOid.pkiStatus, String(input.status)),
    stringAttribute(ScepOid.transactionId, input.transactionId),
    octetsAttribute(ScepOid.senderNonce, input.senderNonce),
    octetsAttribute(ScepOid.recipientNonce, input.recipientNonce),
  ];
  if (input.status === PkiStatus.FAILURE) {
    if (input.failInfo === undefined) throw invalid('FAILURE CertRep needs failInfo');
    attributes.push(stringAttribute(ScepOid.failInfo, String(input.failInfo)));
  }
  return buildSignedData({
    contentType: Oid.data,
    content: input.status === PkiStatus.SUCCESS ? successEnvelope(input) : undefined,
    certificates: [input.raCertDer],
    signerCertDer: input.raCertDer,
    signer: input.raSigner,
    hash: input.hash ?? 'sha256',
    signedAttributes: attributes,
  });
}

function successEnvelope(input: CertRepInput): Buffer {
  if (!input.requesterCertDer) throw invalid('SUCCESS CertRep needs the requester certificate');
  const certs = input.issuedCertsDer ?? [];
  const crls = input.crlDer ? [input.crlDer] : [];
  if (certs.length === 0 && crls.length === 0) throw invalid('SUCCESS CertRep needs certificates or a CRL');
  return buildEnvelopedData(buildDegenerateCertsOnly(certs, crls), input.requesterCertDer, {
    cipher: input.replyCipher ?? chooseReplyCipher(input.cipher),
    keyTransport: 'rsa-pkcs1', // §3.5.2: PKCS#1 v1.5 is what every SCEP client implements
  });
}
