import {
  contextConstructed,
  contextPrimitive,
  objectIdentifier,
  octetString,
  sequence,
  setOf,
  smallInteger,
  tlv,
} from '../der-writer.js';
import { Pkcs12Oid } from './oids.js';
import type { PasswordEncrypted } from './write-pkcs12-encrypt.js';

/** The PKCS#9 attributes that pair a key bag with its certificate bag (RFC 2985 §5.5.1, §5.5.2). */
export interface BagAttributes {
  localKeyId?: Buffer;
  friendlyName?: string;
}

const BMP_STRING = 0x1e;

/**
 * friendlyName is a BMPString: UTF-16BE code units, as OpenSSL writes them (characters beyond
 * U+FFFF become surrogate pairs, which every reader we know of accepts).
 */
function bmpString(text: string): Buffer {
  return tlv(BMP_STRING, Buffer.from(text, 'utf16le').swap16());
}

/**
 *   bagAttributes SET OF PKCS12Attribute
 *   PKCS12Attribute ::= SEQUENCE { attrId OID, attrValues SET OF ANY }
 * Absent when there is nothing to say (the field is OPTIONAL, RFC 7292 §4.2).
 */
function attributes(a: BagAttributes): Buffer[] {
  const out: Buffer[] = [];
  if (a.friendlyName !== undefined)
    out.push(sequence(objectIdentifier(Pkcs12Oid.friendlyName), setOf([bmpString(a.friendlyName)])));
  if (a.localKeyId !== undefined)
    out.push(sequence(objectIdentifier(Pkcs12Oid.localKeyId), setOf([octetString(a.localKeyId)])));
  return out.length > 0 ? [setOf(out)] : [];
}

/** SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OF … OPTIONAL } */
function safeBag(bagId: string, value: Buffer, a: BagAttributes): Buffer {
  return sequence(objectIdentifier(bagId), contextConstructed(0, value), ...attributes(a));
}

/**
 * pkcs8ShroudedKeyBag (RFC 7292 §4.2.2) holding an EncryptedPrivateKeyInfo (RFC 5958 §3):
 *   SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
 */
export function shroudedKeyBag(encrypted: PasswordEncrypted, a: BagAttributes): Buffer {
  const info = sequence(encrypted.algorithmDer, octetString(encrypted.ciphertext));
  return safeBag(Pkcs12Oid.pkcs8ShroudedKeyBag, info, a);
}

/** certBag (RFC 7292 §4.2.3): CertBag ::= SEQUENCE { certId x509Certificate, certValue [0] EXPLICIT OCTET STRING } */
export function certBag(certificateDer: Uint8Array, a: BagAttributes): Buffer {
  const value = sequence(
    objectIdentifier(Pkcs12Oid.x509Certificate),
    contextConstructed(0, octetString(certificateDer)),
  );
  return safeBag(Pkcs12Oid.certBag, value, a);
}

/** ContentInfo of type data (RFC 5652 §4): the SafeContents DER inside an OCTET STRING. */
export function dataContentInfo(content: Uint8Array): Buffer {
  return sequence(objectIdentifier(Pkcs12Oid.data), contextConstructed(0, octetString(content)));
}

/**
 * ContentInfo of type encryptedData (RFC 5652 §8, RFC 7292 §5.1 step 2):
 *   EncryptedData ::= SEQUENCE { version 0, encryptedContentInfo EncryptedContentInfo }
 *   EncryptedContentInfo ::= SEQUENCE { contentType data, contentEncryptionAlgorithm,
 *                                       encryptedContent [0] IMPLICIT OCTET STRING }
 */
export function encryptedDataContentInfo(encrypted: PasswordEncrypted): Buffer {
  const encryptedContentInfo = sequence(
    objectIdentifier(Pkcs12Oid.data),
    encrypted.algorithmDer,
    contextPrimitive(0, encrypted.ciphertext),
  );
  const encryptedData = sequence(smallInteger(0), encryptedContentInfo);
  return sequence(objectIdentifier(Pkcs12Oid.encryptedData), contextConstructed(0, encryptedData));
}
