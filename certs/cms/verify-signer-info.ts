import { constants, type KeyObject, verify } from 'node:crypto';
import { DecodeError, ErrorCodes, OutpostError } from '../../core/errors.js';
import { type PssParameters, pssParameters } from '../algorithms.js';
import { certificateRef } from './certificate-ref.js';
import type { DecodedSignerInfo } from './decode-signed-data.js';
import { decoding, octetsValue, oidValue, parseDer } from './der-reader.js';
import { digest, hashFromOid } from './digest-algorithms.js';
import { Oid } from './oids.js';
import { type SignatureScheme, signatureSchemeFromOid } from './signature-algorithms.js';

function badSignature(detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.badSignature, 'signature verification failed', { detail, cause });
}

/** The single value of a signed attribute, parsed; DecodeError if missing or multi-valued. */
function singleAttributeValue(signer: DecodedSignerInfo, oid: string, what: string): Buffer {
  const values = signer.signedAttributes.get(oid);
  if (values?.length !== 1) throw new DecodeError(`signedAttrs: ${what} must have exactly one value`);
  return values[0]!;
}

/**
 * Verifies one SignerInfo against `content` (the eContent octets): with signed attributes, the
 * message-digest attribute must equal the content's digest and the signature covers the DER SET OF
 * signed attributes (RFC 5652 §5.4); without them, the signature covers the content itself.
 * RSA PKCS#1 v1.5 with any supported hash, RSASSA-PSS (RFC 4056) and ECDSA. Throws badSignature on
 * mismatch, unsupportedAlgorithm for a digest or signature algorithm we do not verify (SHA-224).
 */
export function verifySignerInfo(
  signer: DecodedSignerInfo,
  certificateOrKey: Uint8Array | KeyObject,
  content: Uint8Array,
  expectedContentType?: string,
): void {
  const digestHash = hashFromOid(signer.digestAlgorithm.oid);
  const scheme = signatureSchemeFromOid(signer.signatureAlgorithm.oid);
  const pss = scheme.pss ? pssParametersOf(signer) : undefined;
  const publicKey =
    certificateOrKey instanceof Uint8Array ? certificateRef(certificateOrKey).publicKey() : certificateOrKey;
  if (!keyFits(publicKey, scheme)) throw badSignature('key type does not match signature algorithm');

  let signedBytes: Uint8Array = content;
  if (signer.signedAttrsDer) {
    checkSignedAttributes(signer, content, digestHash, expectedContentType);
    signedBytes = signer.signedAttrsDer;
  }
  let valid: boolean;
  try {
    const key = pss
      ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }
      : scheme.keyType === 'rsa'
        ? { key: publicKey, padding: constants.RSA_PKCS1_PADDING }
        : publicKey;
    valid = verify(pss?.hash ?? scheme.hash ?? digestHash, signedBytes, key, signer.signature);
  } catch (cause) {
    throw badSignature('signature could not be checked', cause);
  }
  if (!valid) throw badSignature('signature does not verify');
}

/** An RSA-PSS key (id-RSASSA-PSS SPKI) can only make PSS signatures (RFC 4055 §1.2). */
function keyFits(publicKey: KeyObject, scheme: SignatureScheme): boolean {
  const type = publicKey.asymmetricKeyType;
  if (type === 'rsa-pss') return scheme.pss === true;
  return type === scheme.keyType;
}

function pssParametersOf(signer: DecodedSignerInfo): PssParameters {
  const der = signer.signatureAlgorithm.parametersDer;
  return decoding('RSASSA-PSS-params', () =>
    pssParameters(der ? parseDer(der, 'RSASSA-PSS-params', der.length) : undefined),
  );
}

/** RFC 5652 §5.3: with signed attributes, content-type and message-digest MUST be present. */
function checkSignedAttributes(
  signer: DecodedSignerInfo,
  content: Uint8Array,
  hash: ReturnType<typeof hashFromOid>,
  expectedContentType: string | undefined,
): void {
  const { contentType, messageDigest } = decoding('signedAttrs', () => {
    const typeDer = singleAttributeValue(signer, Oid.contentType, 'content-type');
    const digestDer = singleAttributeValue(signer, Oid.messageDigest, 'message-digest');
    return {
      contentType: oidValue(parseDer(typeDer, 'content-type', typeDer.length), 'content-type'),
      messageDigest: octetsValue(parseDer(digestDer, 'message-digest', digestDer.length), 'message-digest'),
    };
  });
  if (expectedContentType !== undefined && contentType !== expectedContentType) {
    throw badSignature('content-type attribute does not match eContentType');
  }
  if (!messageDigest.equals(digest(hash, content)))
    throw badSignature('message-digest does not match content');
}
