import type { KeyObject } from 'node:crypto';
import { decoding } from '../../../certs/cms/der-reader.js';
import {
  type ContentCipherName,
  decodeSignedData,
  decryptEnvelopedData,
  findIdentified,
  hashFromOid,
  type KeyTransportName,
  Oid,
  type RecipientKey,
  verifySignerInfo,
} from '../../../certs/cms/index.js';
import type { HashName } from '../../../certs/signer.js';
import { DecodeError, ErrorCodes, OutpostError } from '../../../core/errors.js';
import { isMessageType, MessageType, ScepOid } from './constants.js';
import { type PkiMessagePayload, readPayload } from './pki-message-payload.js';
import { readDecimal, readNonce, readString } from './scep-attributes.js';

export interface DecodePkiMessageOptions {
  /** The RA certificate the client encrypted to (from GetCACert). */
  raCertDer: Uint8Array;
  /** The RA's private key, or a decrypter over an RA key in a token. */
  raPrivateKey: RecipientKey;
  /** Upper bound of the whole message. */
  maxBytes: number;
}

export interface DecodedPkiMessage {
  messageType: MessageType;
  transactionId: string;
  senderNonce: Buffer;
  /** The certificate that signed the request: self-signed for PKCSReq, the existing one for RenewalReq. */
  signerCertDer: Buffer;
  signerPublicKey: KeyObject;
  /** The request's digest; a reply may mirror it. */
  digestAlgorithm: HashName;
  /** The request's content cipher and key transport; a reply may mirror them (see chooseReplyCipher). */
  contentCipher: ContentCipherName;
  keyTransport: KeyTransportName;
  payload: PkiMessagePayload;
}

/**
 * What a pkiMessage says about itself in clear, before anything is verified: enough to address a
 * FAILURE CertRep to it (RFC 8894 §3.3.2) when the rest cannot be processed, e.g. a digest or
 * signature algorithm we do not support (failInfo badAlg).
 */
export interface PkiMessageIdentity {
  messageType: MessageType;
  transactionId: string;
  senderNonce: Buffer;
  /** The request's digest when it is one we support; a reply may mirror it. */
  digestAlgorithm?: HashName;
}

/**
 * Reads the identity attributes of a client pkiMessage without verifying or decrypting it.
 * Throws DecodeError when the SignedData or its SCEP attributes are malformed.
 */
export function identifyPkiMessage(der: Uint8Array, options: { maxBytes: number }): PkiMessageIdentity {
  return readIdentity(der, options.maxBytes).identity;
}

function readIdentity(der: Uint8Array, maxBytes: number) {
  const signedData = decodeSignedData(der, { maxBytes });
  if (signedData.signers.length !== 1) throw new DecodeError('pkiMessage must have exactly one signer');
  const signer = signedData.signers[0]!;
  if (signedData.encapContentType !== Oid.data) throw new DecodeError('pkiMessage content is not id-data');
  const content = signedData.content;
  if (!content) throw new DecodeError('pkiMessage has no pkcsPKIEnvelope');
  const identity: PkiMessageIdentity = decoding('SCEP attributes', () => {
    const type = readDecimal(signer.signedAttributes, ScepOid.messageType, 'messageType')!;
    if (!isMessageType(type) || type === MessageType.CertRep)
      throw new DecodeError(`unknown messageType ${type}`);
    return {
      messageType: type,
      transactionId: readString(signer.signedAttributes, ScepOid.transactionId, 'transactionID'),
      senderNonce: readNonce(signer.signedAttributes, ScepOid.senderNonce, 'senderNonce'),
    };
  });
  const digest = supportedDigest(signer.digestAlgorithm.oid);
  return {
    signedData,
    signer,
    content,
    identity: digest ? { ...identity, digestAlgorithm: digest } : identity,
  };
}

function supportedDigest(oid: string): HashName | undefined {
  try {
    return hashFromOid(oid);
  } catch {
    return undefined;
  }
}

/**
 * Decodes a client pkiMessage (RFC 8894 §3.2): SignedData whose content is the pkcsPKIEnvelope.
 * Order of work: parse, find the signer certificate by sid among `certificates` (never by position),
 * verify the signature (cheap public-key operation, §3.2.1), and only then decrypt with the RA key.
 * Throws DecodeError (malformed), badSignature, decrypt, unsupportedAlgorithm (decided from the
 * AlgorithmIdentifiers in clear, never from decrypted bytes).
 */
export function decodePkiMessage(der: Uint8Array, options: DecodePkiMessageOptions): DecodedPkiMessage {
  const { signedData, signer, content, identity } = readIdentity(der, options.maxBytes);
  const { messageType, transactionId, senderNonce } = identity;

  const signerCert = findIdentified(signer.sid, signedData.certificates);
  if (!signerCert) {
    throw new OutpostError(ErrorCodes.badSignature, 'signature verification failed', {
      detail: 'signer certificate not among the message certificates',
    });
  }
  const signerPublicKey = signerCert.publicKey();
  verifySignerInfo(signer, signerPublicKey, content, Oid.data);

  const envelope = decryptEnvelopedData(
    content,
    { certDer: options.raCertDer, privateKey: options.raPrivateKey },
    { maxBytes: options.maxBytes },
  );
  const payload = readDecryptedPayload(messageType, envelope.content);
  return {
    messageType,
    transactionId,
    senderNonce,
    signerCertDer: signerCert.der,
    signerPublicKey,
    digestAlgorithm: hashFromOid(signer.digestAlgorithm.oid),
    contentCipher: envelope.contentCipher,
    keyTransport: envelope.keyTransport,
    payload,
  };
}

/**
 * A plaintext that decrypted but does not parse is reported exactly like a padding failure: the
 * signer of a pkiMessage is anyone with a self-signed cert, so distinguishable errors here would
 * let a replayed envelope be probed as a CBC padding oracle.
 */
function readDecryptedPayload(messageType: MessageType, plaintext: Buffer): PkiMessagePayload {
  try {
    return readPayload(messageType, plaintext);
  } catch (cause) {
    throw new OutpostError(ErrorCodes.decrypt, 'could not decrypt', {
      detail: 'envelope content malformed',
      cause,
    });
  }
}
