/** CMS (RFC 5652) as SCEP needs it: SignedData, degenerate certs-only, EnvelopedData. */
export { buildEnvelopedData, type EnvelopeOptions } from './build-enveloped-data.js';
export {
  type BuildSignedDataInput,
  buildDegenerateCertsOnly,
  buildSignedData,
  type SignedAttributeInput,
} from './build-signed-data.js';
export {
  type CertificateRef,
  type CmsIdentifier,
  certificateRef,
  findIdentified,
} from './certificate-ref.js';
export type { ContentCipherName } from './content-ciphers.js';
export { unwrapContentInfo, wrapContentInfo } from './content-info.js';
export {
  type AlgorithmIdentifier,
  type DecodedSignedData,
  type DecodedSignerInfo,
  decodeSignedData,
} from './decode-signed-data.js';
export {
  type DecryptedEnvelope,
  decryptEnvelopedData,
  type EnvelopeRecipient,
} from './decrypt-enveloped-data.js';
export { hashFromOid } from './digest-algorithms.js';
export { Oid } from './oids.js';
export {
  checkPkcs1v15Lengths,
  keyOrSynthetic,
  type OaepHashName,
  type RecipientKey,
  type RsaKeyTransportDecrypter,
  rejectionSecretFrom,
  syntheticKey,
} from './recipient-key.js';
export type { KeyTransportName } from './rsa-key-transport.js';
export { verifySignerInfo } from './verify-signer-info.js';
