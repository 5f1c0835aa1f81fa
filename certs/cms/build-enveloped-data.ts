import { certificateRef } from './certificate-ref.js';
import {
  type ContentCipherName,
  contentCipherByName,
  encryptContent,
  generateContentKey,
} from './content-ciphers.js';
import { wrapContentInfo } from './content-info.js';
import {
  contextPrimitive,
  objectIdentifier,
  octetString,
  sequence,
  setOf,
  smallInteger,
  tlv,
} from './der-writer.js';
import { Oid } from './oids.js';
import { wrapContentKey } from './rsa-key-transport.js';

export interface EnvelopeOptions {
  cipher: ContentCipherName;
  keyTransport: 'rsa-pkcs1' | 'rsa-oaep-sha256';
}

/**
 * ContentInfo(EnvelopedData) of id-data `content` for one RSA recipient identified by issuer and
 * serial (RFC 5652 §6.1: version 0, KeyTransRecipientInfo version 0).
 */
export function buildEnvelopedData(
  content: Uint8Array,
  recipientCertDer: Uint8Array,
  options: EnvelopeOptions,
): Buffer {
  const recipient = certificateRef(recipientCertDer);
  const cipher = contentCipherByName(options.cipher);
  const key = generateContentKey(cipher);
  const { algorithmDer: keyAlgorithm, encryptedKey } = wrapContentKey(
    options.keyTransport,
    recipient.publicKey(),
    key,
  );
  const { algorithmDer: contentAlgorithm, ciphertext } = encryptContent(cipher, key, content);
  const recipientInfo = sequence(
    smallInteger(0),
    sequence(recipient.issuerDer, tlv(0x02, recipient.serial)),
    keyAlgorithm,
    octetString(encryptedKey),
  );
  const envelopedData = sequence(
    smallInteger(0),
    setOf([recipientInfo]),
    sequence(objectIdentifier(Oid.data), contentAlgorithm, contextPrimitive(0, ciphertext)),
  );
  return wrapContentInfo(Oid.envelopedData, envelopedData);
}
