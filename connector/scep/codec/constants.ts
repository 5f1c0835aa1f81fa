/** SCEP message model constants (RFC 8894 §3.2.1.2 - §3.2.1.4). */

/** messageType attribute values (RFC 8894 §3.2.1.2), sent as decimal PrintableString. */
export const MessageType = {
  CertRep: 3,
  RenewalReq: 17,
  PKCSReq: 19,
  /** Also known as GetCertInitial. */
  CertPoll: 20,
  GetCert: 21,
  GetCRL: 22,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** pkiStatus attribute values (RFC 8894 §3.2.1.3). */
export const PkiStatus = {
  SUCCESS: 0,
  FAILURE: 2,
  PENDING: 3,
} as const;
export type PkiStatus = (typeof PkiStatus)[keyof typeof PkiStatus];

/** failInfo attribute values (RFC 8894 §3.2.1.4). */
export const FailInfo = {
  badAlg: 0,
  badMessageCheck: 1,
  badRequest: 2,
  badTime: 3,
  badCertId: 4,
} as const;
export type FailInfo = (typeof FailInfo)[keyof typeof FailInfo];

/** SCEP authenticated attributes, under the VeriSign arc (RFC 8894 §3.2.1). */
export const ScepOid = {
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionId: '2.16.840.1.113733.1.9.7',
} as const;

export function isMessageType(value: number): value is MessageType {
  return (Object.values(MessageType) as number[]).includes(value);
}

export function isPkiStatus(value: number): value is PkiStatus {
  return (Object.values(PkiStatus) as number[]).includes(value);
}

export function isFailInfo(value: number): value is FailInfo {
  return (Object.values(FailInfo) as number[]).includes(value);
}
