import type { KeyObject } from 'node:crypto';
import { decoding } from '../../../certs/cms/der-reader.js';
import {
  decodeSignedData,
  decryptEnvelopedData,
  findIdentified,
  Oid,
  verifySignerInfo,
} from '../../../certs/cms/index.js';
import { DecodeError, ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type FailInfo, isFailInfo, isPkiStatus, MessageType, PkiStatus, ScepOid } from './constants.js';
import { readDecimal, readNonce, readString } from './scep-attributes.js';

export interface DecodeCertRepOptions {
  requesterPrivateKey: KeyObject;
  /** The certificate the request was signed with (the envelope's recipient). */
  requesterCertDer: Uint8Array;
  /** The certificates from GetCACert: only these may sign the CertRep (as scepclient does). */
  raCertsDer: Uint8Array[];
  maxBytes?: number;
}

export interface DecodedCertRep {
  status: PkiStatus;
  failInfo?: FailInfo;
  transactionId: string;
  senderNonce: Buffer;
  recipientNonce: Buffer;
  /** SUCCESS: the degenerate PKCS#7's certificates in order (issued cert first). */
  issuedCertsDer: Buffer[];
  crlsDer: Buffer[];
}

/** Client side: verifies and decodes a CertRep (RFC 8894 §3.3.2), decrypting the certs on SUCCESS. */
export function decodeCertRep(der: Uint8Array, options: DecodeCertRepOptions): DecodedCertRep {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const signedData = decodeSignedData(der, { maxBytes });
  if (signedData.signers.length !== 1) throw new DecodeError('CertRep must have exactly one signer');
  const signer = signedData.signers[0]!;
  const raCert = findIdentified(signer.sid, options.raCertsDer);
  if (!raCert) {
    throw new OutpostError(ErrorCodes.badSignature, 'signature verification failed', {
      detail: 'CertRep not signed by an RA cert',
    });
  }
  verifySignerInfo(signer, raCert.publicKey(), signedData.content ?? Buffer.alloc(0), Oid.data);

  const header = decoding('CertRep attributes', () => {
    const attrs = signer.signedAttributes;
    const messageType = readDecimal(attrs, ScepOid.messageType, 'messageType');
    if (messageType !== MessageType.CertRep)
      throw new DecodeError(`not a CertRep (messageType ${messageType})`);
    const status = readDecimal(attrs, ScepOid.pkiStatus, 'pkiStatus')!;
    if (!isPkiStatus(status)) throw new DecodeError(`unknown pkiStatus ${status}`);
    const failInfo = readDecimal(attrs, ScepOid.failInfo, 'failInfo', true);
    if (failInfo !== undefined && !isFailInfo(failInfo))
      throw new DecodeError(`unknown failInfo ${failInfo}`);
    if (status === PkiStatus.FAILURE && failInfo === undefined)
      throw new DecodeError('FAILURE without failInfo');
    return {
      status,
      failInfo,
      transactionId: readString(attrs, ScepOid.transactionId, 'transactionID'),
      senderNonce: readNonce(attrs, ScepOid.senderNonce, 'senderNonce'),
      recipientNonce: readNonce(attrs, ScepOid.recipientNonce, 'recipientNonce'),
    };
  });
  if (header.status !== PkiStatus.SUCCESS) return { ...header, issuedCertsDer: [], crlsDer: [] };

  if (!signedData.content) throw new DecodeError('SUCCESS CertRep without pkcsPKIEnvelope');
  const { content } = decryptEnvelopedData(
    signedData.content,
    { certDer: options.requesterCertDer, privateKey: options.requesterPrivateKey },
    { maxBytes },
  );
  const degenerate = decodeSignedData(content, { maxBytes });
  return { ...header, issuedCertsDer: degenerate.certificates, crlsDer: degenerate.crls };
}
