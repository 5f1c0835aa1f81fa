/** SCEP (RFC 8894) message codec: pure, bytes in, values out. */
export { type CaCertResponse, encodeCaCertResponse } from './ca-cert-response.js';
export { capabilities, defaultCapabilities } from './capabilities.js';
export { FailInfo, MessageType, PkiStatus, ScepOid } from './constants.js';
export { type DecodeCertRepOptions, type DecodedCertRep, decodeCertRep } from './decode-cert-rep.js';
export {
  type DecodedPkiMessage,
  type DecodePkiMessageOptions,
  decodePkiMessage,
  identifyPkiMessage,
  type PkiMessageIdentity,
} from './decode-pki-message.js';
export { type CertRepInput, encodeCertRep } from './encode-cert-rep.js';
export { encodePkiMessage, type PkiMessageInput } from './encode-pki-message.js';
export { decodeGetMessageParam } from './get-message-param.js';
export type { PkiMessagePayload } from './pki-message-payload.js';
export { chooseReplyCipher } from './reply-cipher.js';
