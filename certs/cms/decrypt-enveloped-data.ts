import { DecodeError, ErrorCodes, OutpostError } from '../../core/errors.js';
import { type CmsIdentifier, certificateRef, identifies, readCmsIdentifier } from './certificate-ref.js';
import { type ContentCipherName, contentCipherByOid, decryptContent } from './content-ciphers.js';
import { unwrapContentInfo } from './content-info.js';
import { type AlgorithmIdentifier, readAlgorithmIdentifier } from './decode-signed-data.js';
import {
  type AsnNode,
  decoding,
  isContextTag,
  isSequence,
  octetsValue,
  oidValue,
  parseDer,
  sequenceItems,
  setItems,
  smallIntegerValue,
} from './der-reader.js';
import { Oid } from './oids.js';
import type { RecipientKey } from './recipient-key.js';
import { type KeyTransportName, unwrapContentKey } from './rsa-key-transport.js';

export interface EnvelopeRecipient {
  certDer: Uint8Array;
  /** A node:crypto key, or a decrypter over a key kept elsewhere (a PKCS#11 token). */
  privateKey: RecipientKey;
}

export interface DecryptedEnvelope {
  content: Buffer;
  contentType: string;
  /** What the sender used, so that a reply can mirror it. */
  contentCipher: ContentCipherName;
  keyTransport: KeyTransportName;
}

interface KeyTransRecipient {
  rid: CmsIdentifier;
  algorithm: AlgorithmIdentifier;
  encryptedKey: Buffer;
}

const MAX_RECIPIENTS = 16;

/**
 * Decrypts ContentInfo(EnvelopedData) (RFC 5652 §6) for one KeyTransRecipientInfo, matched by
 * issuer+serial or SKI; when none matches and there is exactly one, that one is tried (clients that
 * encrypted to an older RA certificate with the same key). DecodeError for malformed input,
 * OutpostError decrypt when it does not decrypt (wrong key, bad padding: indistinguishable).
 */
export function decryptEnvelopedData(
  der: Uint8Array,
  recipient: EnvelopeRecipient,
  limits: { maxBytes: number },
): DecryptedEnvelope {
  const envelope = decoding('EnvelopedData', () => readEnvelopedData(der, limits.maxBytes));
  const chosen = chooseRecipient(envelope.recipients, recipient.certDer);
  const cipher = contentCipherByOid(envelope.contentAlgorithm.oid);
  const iv = decoding('content IV', () => {
    const params = envelope.contentAlgorithm.parametersDer;
    if (!params) throw new DecodeError('contentEncryptionAlgorithm: missing IV');
    return octetsValue(parseDer(params, 'IV', 64), 'IV');
  });
  const { key, keyTransport } = unwrapContentKey(
    chosen.algorithm,
    recipient.privateKey,
    chosen.encryptedKey,
    cipher.keyLength,
  );
  const content = decryptContent(cipher, key, iv, envelope.ciphertext);
  return { content, contentType: envelope.contentType, contentCipher: cipher.name, keyTransport };
}

function chooseRecipient(recipients: KeyTransRecipient[], certDer: Uint8Array): KeyTransRecipient {
  const cert = certificateRef(certDer);
  const matched = recipients.find((r) => identifies(r.rid, cert));
  if (matched) return matched;
  if (recipients.length === 1) return recipients[0]!;
  throw new OutpostError(ErrorCodes.decrypt, 'could not decrypt', {
    detail: 'no recipient matches our certificate',
  });
}

function readEnvelopedData(der: Uint8Array, maxBytes: number) {
  const fields = sequenceItems(
    unwrapContentInfo(der, Oid.envelopedData, 'EnvelopedData', maxBytes),
    'EnvelopedData',
    3,
    5,
  );
  smallIntegerValue(fields[0], 'EnvelopedData version');
  const at = isContextTag(fields[1], 0) ? 2 : 1; // originatorInfo [0] is optional
  const recipients = setItems(fields[at], 'recipientInfos', MAX_RECIPIENTS)
    .filter(isSequence) // KeyTransRecipientInfo is the untagged choice; kari/kekri/pwri/ori are [n]
    .map(readKeyTransRecipient);
  if (recipients.length === 0) throw new DecodeError('EnvelopedData: no key transport recipient');
  const [type, algorithm, encrypted] = sequenceItems(fields[at + 1], 'encryptedContentInfo', 3);
  return {
    recipients,
    contentType: oidValue(type, 'encryptedContentInfo contentType'),
    contentAlgorithm: readAlgorithmIdentifier(algorithm, 'contentEncryptionAlgorithm'),
    ciphertext: octetsValue(encrypted, 'encryptedContent', 0),
  };
}

function readKeyTransRecipient(node: AsnNode): KeyTransRecipient {
  const [version, rid, algorithm, encryptedKey] = sequenceItems(node, 'KeyTransRecipientInfo', 4);
  smallIntegerValue(version, 'KeyTransRecipientInfo version');
  return {
    rid: readCmsIdentifier(rid, 'rid'),
    algorithm: readAlgorithmIdentifier(algorithm, 'keyEncryptionAlgorithm'),
    encryptedKey: octetsValue(encryptedKey, 'encryptedKey'),
  };
}
