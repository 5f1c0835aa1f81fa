import {
  buildEnvelopedData,
  buildSignedData,
  type ContentCipherName,
  Oid,
} from '../../../certs/cms/index.js';
import type { HashName, Signer } from '../../../certs/signer.js';
import { type MessageType, ScepOid } from './constants.js';
import { type PkiMessagePayload, writePayload } from './pki-message-payload.js';
import { octetsAttribute, stringAttribute } from './scep-attributes.js';

export interface PkiMessageInput {
  messageType: MessageType;
  transactionId: string;
  senderNonce: Uint8Array;
  payload: PkiMessagePayload;
  /** Self-signed cert for PKCSReq, the existing cert for RenewalReq (RFC 8894 §3.2.1). */
  signerCertDer: Uint8Array;
  signer: Signer;
  /** The RA certificate from GetCACert: the envelope is encrypted to it. */
  recipientCertDer: Uint8Array;
  cipher: ContentCipherName;
  hash: HashName;
  keyTransport?: 'rsa-pkcs1' | 'rsa-oaep-sha256';
}

/** Client side (tests, load generator): encodes a request pkiMessage (RFC 8894 §3.2). */
export function encodePkiMessage(input: PkiMessageInput): Buffer {
  const envelope = buildEnvelopedData(writePayload(input.payload), input.recipientCertDer, {
    cipher: input.cipher,
    keyTransport: input.keyTransport ?? 'rsa-pkcs1',
  });
  return buildSignedData({
    contentType: Oid.data,
    content: envelope,
    certificates: [input.signerCertDer],
    signerCertDer: input.signerCertDer,
    signer: input.signer,
    hash: input.hash,
    signedAttributes: [
      stringAttribute(ScepOid.messageType, String(input.messageType)),
      stringAttribute(ScepOid.transactionId, input.transactionId),
      octetsAttribute(ScepOid.senderNonce, input.senderNonce),
    ],
  });
}
