import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type ParsedCsr, parseCsr } from '../../../certs/csr.js';
import { DecodeError, ErrorCodes, OutpostError, toOutpostError } from '../../../core/errors.js';
import type { EnrollOutcome } from '../../issuance/admission.js';
import type { Authority } from '../../issuance/authority.js';
import {
  type CertRepInput,
  type DecodedPkiMessage,
  decodePkiMessage,
  encodeCertRep,
  identifyPkiMessage,
  MessageType,
  type PkiMessageIdentity,
  PkiStatus,
} from '../codec/index.js';
import { failInfoFor } from './scep-failure.js';
import type { ScepRa } from './scep-ra.js';

export interface PkiOperationResult {
  /** DER of the CertRep. */
  body: Buffer;
  messageType: number;
  status: 'success' | 'failure' | 'pending';
  /** Set when status is failure: the reason, for logs and metrics (never sent but as failInfo). */
  error?: OutpostError;
}

export interface ScepOperationsOptions {
  ra: ScepRa;
  authority: Authority;
  maxMessageBytes: number;
  logger: Logger;
}

/**
 * PKIOperation semantics (RFC 8894 §3.3): decode and authenticate the pkiMessage, dispatch on its
 * messageType to the authority, and answer with a CertRep. Anything that goes wrong after the
 * message decoded becomes a FAILURE CertRep; only undecodable input escapes as an error.
 */
export class ScepOperations {
  constructor(private readonly options: ScepOperationsOptions) {}

  async pkiOperation(der: Buffer, client: string): Promise<PkiOperationResult> {
    let decoded: { message: DecodedPkiMessage; csr?: ParsedCsr };
    try {
      decoded = this.decode(der);
    } catch (e) {
      return this.unsupportedAlgorithmReply(der, e, client);
    }
    const { message, csr } = decoded;
    try {
      const reply = await this.dispatch(message, csr, client);
      return { ...reply, body: this.certRep(message, reply.input), messageType: message.messageType };
    } catch (e) {
      return this.failure(message, toOutpostError(e), client);
    }
  }

  /**
   * A digest or signature algorithm we cannot verify (SHA-224, PSS with another MGF1 hash, an
   * unknown cipher) is named in clear in the message, so it is answered like any refusal: a signed
   * CertRep FAILURE badAlg (RFC 8894 §3.2.1.4.5) addressed by the message's transactionID and
   * nonce, not a bare HTTP 400. Anything else undecodable still escapes as an error.
   */
  private unsupportedAlgorithmReply(der: Buffer, e: unknown, client: string): PkiOperationResult {
    if (!(e instanceof OutpostError) || e.code !== ErrorCodes.unsupportedAlgorithm) throw e;
    let identity: PkiMessageIdentity;
    try {
      identity = identifyPkiMessage(der, { maxBytes: this.options.maxMessageBytes });
    } catch {
      throw e;
    }
    return this.failure(identity, e, client);
  }

  private failure(identity: PkiMessageIdentity, error: OutpostError, client: string): PkiOperationResult {
    const log = this.options.logger.child({ transactionId: identity.transactionId, client });
    if (error.code === ErrorCodes.internal || error.code === ErrorCodes.unavailable) {
      log.error({ err: error, code: error.code }, 'SCEP operation failed');
    } else {
      log.info({ code: error.code, reason: error.message }, 'SCEP request refused');
    }
    const input = { status: PkiStatus.FAILURE, failInfo: failInfoFor(error) } as const;
    return {
      body: this.certRep(identity, input),
      messageType: identity.messageType,
      status: 'failure',
      error,
    };
  }

  /**
   * Decodes, authenticates and decrypts the message, and parses the CSR it carries. A CSR that
   * does not parse fails exactly like an envelope that does not decrypt: anyone can wrap a
   * captured envelope in a message of their own, so a different answer for "decrypted but not a
   * CSR" would turn the server into a CBC padding oracle.
   */
  private decode(der: Buffer): { message: DecodedPkiMessage; csr?: ParsedCsr } {
    const { ra, maxMessageBytes } = this.options;
    let message: DecodedPkiMessage;
    try {
      message = decodePkiMessage(der, {
        raCertDer: ra.certDer,
        raPrivateKey: ra.privateKey,
        maxBytes: maxMessageBytes,
      });
    } catch (e) {
      if (e instanceof OutpostError) throw e;
      throw new DecodeError('malformed pkiMessage', { cause: e });
    }
    if (message.payload.kind !== 'csr') return { message };
    try {
      return { message, csr: parseCsr(message.payload.csrDer) };
    } catch (e) {
      throw new OutpostError(ErrorCodes.decrypt, 'could not decrypt', {
        cause: e,
        detail: 'content is not a CSR',
      });
    }
  }

  private async dispatch(
    message: DecodedPkiMessage,
    csr: ParsedCsr | undefined,
    client: string,
  ): Promise<{ status: PkiOperationResult['status']; input: ReplyInput }> {
    const { authority } = this.options;
    const requester = `scep:${client}`;
    const payload = message.payload;
    switch (message.messageType) {
      case MessageType.PKCSReq:
      case MessageType.RenewalReq: {
        if (!csr) throw new DecodeError('PKCSReq without a CSR');
        const base = { csr, transactionId: message.transactionId, requester };
        const outcome =
          message.messageType === MessageType.RenewalReq
            ? await authority.renew({ ...base, signerCertDer: message.signerCertDer })
            : await authority.enroll(base);
        return this.fromOutcome(outcome);
      }
      case MessageType.CertPoll:
        return this.fromOutcome(await authority.poll(message.transactionId));
      case MessageType.GetCert: {
        if (payload.kind !== 'issuerAndSerial') throw new DecodeError('GetCert without issuerAndSerial');
        const record = await authority.certificate(payload.serialHex);
        return { status: 'success', input: { status: PkiStatus.SUCCESS, issuedCertsDer: [record.der] } };
      }
      case MessageType.GetCRL: {
        const crl = this.options.ra.currentCrl();
        if (!crl) throw new OutpostError(ErrorCodes.notFound, 'no CRL is published by this CA');
        return { status: 'success', input: { status: PkiStatus.SUCCESS, crlDer: crl } };
      }
      default:
        throw new OutpostError(ErrorCodes.badRequest, `unsupported messageType ${message.messageType}`);
    }
  }

  private fromOutcome(outcome: EnrollOutcome): { status: PkiOperationResult['status']; input: ReplyInput } {
    if (outcome.status === 'pending') return { status: 'pending', input: { status: PkiStatus.PENDING } };
    // scepclient reads the first certificate of the degenerate PKCS#7 as the issued one.
    const issuedCertsDer = [outcome.record.der, ...this.options.ra.caChainDer];
    return { status: 'success', input: { status: PkiStatus.SUCCESS, issuedCertsDer } };
  }

  /** A FAILURE or PENDING reply needs only the identity; SUCCESS encrypts to the requester's certificate. */
  private certRep(message: PkiMessageIdentity & Partial<DecodedPkiMessage>, input: ReplyInput): Buffer {
    const { ra } = this.options;
    return encodeCertRep({
      ...input,
      transactionId: message.transactionId,
      recipientNonce: message.senderNonce,
      senderNonce: randomBytes(16),
      ...(message.signerCertDer ? { requesterCertDer: message.signerCertDer } : {}),
      raCertDer: ra.certDer,
      raSigner: ra.signer,
      hash: message.digestAlgorithm ?? 'sha256',
      ...(message.contentCipher ? { cipher: message.contentCipher } : {}),
    });
  }
}

type ReplyInput = Pick<CertRepInput, 'status' | 'failInfo' | 'issuedCertsDer' | 'crlDer'>;
