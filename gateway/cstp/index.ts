/**
 * The CSTP wire codec of the gateway: pure functions over bytes and strings (DESIGN.md rule 1).
 * The TLS server feeds it POST bodies, CONNECT headers and the tunnel's byte stream.
 */
export { type AuthCompleteParams, buildAuthComplete } from './auth-complete.js';
export {
  type AuthPostDecline,
  type AuthPostLimits,
  type AuthPostResult,
  readAuthPost,
} from './auth-post.js';
export { type AuthFormField, type AuthRequestParams, buildAuthRequest } from './auth-request.js';
export {
  type ConfigAuthInit,
  type ConfigAuthLimits,
  type ConfigAuthMessage,
  type ConfigAuthReply,
  type DeviceIdentity,
  parseConfigAuth,
} from './config-auth.js';
export {
  type ConnectHeadDecline,
  type ConnectHeadResult,
  defaultMaxHeadBytes,
  readConnectHead,
} from './connect-head.js';
export {
  type ConnectRequest,
  type ConnectRequestLimits,
  type DtlsOffer,
  type HeaderMap,
  parseConnectRequest,
} from './connect-request.js';
export {
  buildConnectResponse,
  type ConnectResponseParams,
  type DtlsAnswer,
  MAX_SPLIT_RULES,
} from './connect-response.js';
export { wholeDataFrameLength } from './data-frame.js';
export {
  type ClientDisconnect,
  DisconnectCode,
  encodeDisconnect,
  encodeServerDisconnect,
  isServerDisconnectReason,
  MAX_DISCONNECT_MESSAGE,
  parseDisconnect,
  type ServerDisconnectReason,
  serverDisconnectPayload,
  serverDisconnectReasons,
} from './disconnect.js';
export {
  type CstpFrame,
  encodeDpdResponse,
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameType,
  isFrameType,
  MAX_FRAME_PAYLOAD,
  writeFrameHeader,
} from './frame.js';
export {
  CstpFrameDecoder,
  DEFAULT_TUNNEL_MTU,
  type FrameCheck,
  FrameDecodeError,
  type FrameDecoderOptions,
  maxPayloadForMtu,
  PAYLOAD_SLACK,
} from './frame-decoder.js';
export { buildHttpResponse, type HttpAnswer } from './http-response.js';
export {
  type IgnoredMtu,
  IPV6_MIN_MTU,
  MAX_CLIENT_MTU,
  MIN_LINK_MTU,
  type MtuInputs,
  type NegotiatedMtu,
  negotiateMtu,
} from './mtu.js';
