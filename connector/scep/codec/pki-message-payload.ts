import { integerBytes, parseDer, rawDer, sequenceItems } from '../../../certs/cms/der-reader.js';
import { sequence, tlv } from '../../../certs/cms/der-writer.js';
import { DecodeError } from '../../../core/errors.js';
import { MessageType } from './constants.js';

/** The decrypted pkcsPKIEnvelope content, by messageType (RFC 8894 §3.3). */
export type PkiMessagePayload =
  | { kind: 'csr'; csrDer: Buffer }
  | { kind: 'issuerAndSubject'; issuerDer: Buffer; subjectDer: Buffer }
  | { kind: 'issuerAndSerial'; issuerDer: Buffer; serialHex: string };

const MAX_NAME_RDNS = 64;

/** Parses the envelope content as the messageType requires; DecodeError when it does not fit. */
export function readPayload(messageType: MessageType, der: Buffer): PkiMessagePayload {
  const node = parseDer(der, 'pkcsPKIEnvelope content', der.length);
  switch (messageType) {
    case MessageType.PKCSReq:
    case MessageType.RenewalReq:
      // PKCS#10 CertificationRequest (§3.3.1); its full parse and signature check belong to certs/csr
      sequenceItems(node, 'CertificationRequest', 3);
      return { kind: 'csr', csrDer: der };
    case MessageType.CertPoll: {
      // IssuerAndSubject (§3.3.3)
      const [issuer, subject] = sequenceItems(node, 'IssuerAndSubject', 2);
      sequenceItems(issuer, 'issuer', 0, MAX_NAME_RDNS);
      sequenceItems(subject, 'subject', 0, MAX_NAME_RDNS);
      return { kind: 'issuerAndSubject', issuerDer: rawDer(issuer!), subjectDer: rawDer(subject!) };
    }
    case MessageType.GetCert:
    case MessageType.GetCRL: {
      // IssuerAndSerialNumber (§3.3.4, §3.3.5)
      const [issuer, serial] = sequenceItems(node, 'IssuerAndSerialNumber', 2);
      sequenceItems(issuer, 'issuer', 0, MAX_NAME_RDNS);
      return {
        kind: 'issuerAndSerial',
        issuerDer: rawDer(issuer!),
        serialHex: integerBytes(serial, 'serial').toString('hex'),
      };
    }
    default:
      throw new DecodeError(`messageType ${messageType} is not a request`);
  }
}

/** Encodes a payload (client side). */
export function writePayload(payload: PkiMessagePayload): Buffer {
  switch (payload.kind) {
    case 'csr':
      return payload.csrDer;
    case 'issuerAndSubject':
      return sequence(payload.issuerDer, payload.subjectDer);
    case 'issuerAndSerial':
      return sequence(payload.issuerDer, tlv(0x02, Buffer.from(payload.serialHex, 'hex')));
  }
}
