export {
  CERT_ID_HASHES,
  type CertId,
  encodeCertId,
  type IssuerHashes,
  type IssuerIdentity,
  issuerHashes,
  responderKeyHash,
} from './cert-id.js';
export { OCSP_REQUEST_LIMITS, type OcspRequest, parseOcspRequest } from './ocsp-request.js';
export { buildOcspRequest } from './ocsp-request-builder.js';
export {
  type BasicResponseTemplate,
  buildOcspResponse,
  type CertStatus,
  OCSP_RESPONSE_STATUS,
  type OcspErrorStatus,
  type OcspResponseStatus,
  ocspErrorResponse,
  type SingleResponseTemplate,
} from './ocsp-response.js';
export {
  basicResponseSignedBy,
  OCSP_RESPONSE_LIMITS,
  type ParsedBasicResponse,
  type ParsedOcspResponse,
  type ParsedSingleResponse,
  parseOcspResponse,
} from './ocsp-response-reader.js';
