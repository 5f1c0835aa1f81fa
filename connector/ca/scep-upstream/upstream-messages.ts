import { createHash, randomBytes } from 'node:crypto';
import { isSignedBy, parseCertificate } from '../../../certs/certificate.js';
import type { ContentCipherName } from '../../../certs/cms/index.js';
import type { ParsedCsr } from '../../../certs/csr.js';
import type { HashName } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { decodeCertRep, encodePkiMessage, FailInfo, MessageType, PkiStatus } from '../../scep/codec/index.js';
import type { IssueResult } from '../ca-backend.js';
import type { RaClientCredentials } from './ra-client-credentials.js';
import type { UpstreamCaCerts } from './upstream-ca-certs.js';

/** How to talk to this upstream, from its GetCACaps (RFC 8894 §3.5.2). */
export interface UpstreamAlgorithms {
  cipher: ContentCipherName;
  hash: HashName;
  post: boolean;
}

/**
 * RFC 8894 §3.5.2: "AES" means AES-128-CBC, "DES3" triple DES; a CA that lists neither only
 * promises single DES. SHA-256 is implied by SCEPStandard. POST needs POSTPKIOperation.
 */
export function algorithmsFor(caps: Set<string>): UpstreamAlgorithms {
  const has = (word: string) => caps.has(word.toUpperCase());
  const standard = has('SCEPStandard');
  return {
    cipher: has('AES') || standard ? 'aes-128-cbc' : has('DES3') ? 'des-ede3-cbc' : 'des-cbc',
    hash: has('SHA-256') || standard ? 'sha256' : 'sha1',
    post: has('POSTPKIOperation') || standard,
  };
}

/**
 * The upstream transaction: derived from the CSR so that a poll after a restart (or from another
 * process) names the same transaction without any stored state (RFC 8894 §3.2.1.1 only asks that
 * it be unique per request).
 */
export function upstreamTransactionId(csr: ParsedCsr): string {
  return createHash('sha256').update(csr.der).digest('hex').toUpperCase();
}

export interface OutgoingMessage {
  der: Buffer;
  transactionId: string;
  senderNonce: Buffer;
}

interface Context {
  credentials: RaClientCredentials;
  ca: UpstreamCaCerts;
  algorithms: UpstreamAlgorithms;
}

function message(
  ctx: Context,
  messageType: typeof MessageType.PKCSReq | typeof MessageType.CertPoll,
  transactionId: string,
  payload: Parameters<typeof encodePkiMessage>[0]['payload'],
): OutgoingMessage {
  const senderNonce = randomBytes(16);
  const der = encodePkiMessage({
    messageType,
    transactionId,
    senderNonce,
    payload,
    signerCertDer: ctx.credentials.certDer,
    signer: ctx.credentials.signer,
    recipientCertDer: ctx.ca.recipient,
    cipher: ctx.algorithms.cipher,
    hash: ctx.algorithms.hash,
  });
  return { der, transactionId, senderNonce };
}

/**
 * PKCSReq (RFC 8894 §3.3.1) carrying `sent` (the device's CSR unchanged, or one the RA built for
 * the same key), signed by the RA client. The transaction is named after the request's own CSR,
 * so a later CertPoll finds it whichever CSR was sent.
 */
export function pkcsReq(ctx: Context, sent: ParsedCsr, requested: ParsedCsr): OutgoingMessage {
  return message(ctx, MessageType.PKCSReq, upstreamTransactionId(requested), {
    kind: 'csr',
    csrDer: sent.der,
  });
}

/** CertPoll (RFC 8894 §3.3.3): IssuerAndSubject = the issuing CA's name and the requested subject. */
export function certPoll(ctx: Context, csr: ParsedCsr): OutgoingMessage {
  const issuerDer = parseCertificate(ctx.ca.chain[0]!).subject.der;
  return message(ctx, MessageType.CertPoll, upstreamTransactionId(csr), {
    kind: 'issuerAndSubject',
    issuerDer,
    subjectDer: csr.subject.der,
  });
}

const failInfoNames = new Map<number, string>(Object.entries(FailInfo).map(([k, v]) => [v, k]));

/**
 * Reads the upstream's CertRep: signed by a GetCACert certificate, answering exactly our
 * transaction and nonce (RFC 8894 §3.2.1.5, against replay), and on SUCCESS a certificate for the
 * CSR's key, signed by a CA of the upstream chain.
 */
export function readCertRep(ctx: Context, sent: OutgoingMessage, csr: ParsedCsr, reply: Buffer): IssueResult {
  const rep = decodeCertRep(reply, {
    requesterPrivateKey: ctx.credentials.privateKey,
    requesterCertDer: ctx.credentials.certDer,
    raCertsDer: ctx.ca.all,
  });
  if (rep.transactionId !== sent.transactionId || !rep.recipientNonce.equals(sent.senderNonce)) {
    throw new OutpostError(ErrorCodes.badSignature, 'the upstream CertRep does not answer this request', {
      detail: `transactionID ${rep.transactionId}`,
    });
  }
  if (rep.status === PkiStatus.PENDING) return { pending: true };
  if (rep.status === PkiStatus.FAILURE) {
    throw new OutpostError(ErrorCodes.badRequest, 'the upstream CA refused the request', {
      detail: `failInfo ${failInfoNames.get(rep.failInfo!) ?? rep.failInfo}`,
    });
  }
  const issuedDer = rep.issuedCertsDer[0];
  if (!issuedDer) throw new OutpostError(ErrorCodes.badRequest, 'the upstream CertRep holds no certificate');
  const cert = parseCertificate(issuedDer);
  if (!cert.spkiDer.equals(csr.spkiDer)) {
    throw new OutpostError(ErrorCodes.badSignature, 'the upstream CA issued a certificate for another key');
  }
  const issuers = ctx.ca.chain.map((der) => parseCertificate(der));
  if (!issuers.some((ca) => ca.subject.der.equals(cert.issuer.der) && isSignedBy(cert, ca.publicKey))) {
    throw new OutpostError(
      ErrorCodes.badSignature,
      'the upstream certificate is not signed by the upstream CA',
    );
  }
  return { der: cert.der, serialHex: cert.serialHex, notBefore: cert.notBefore, notAfter: cert.notAfter };
}
