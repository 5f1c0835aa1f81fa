import { DecodeError } from '../../core/errors.js';
import {
  type AsnNode,
  decoding,
  explicitItem,
  octetsValue,
  oidValue,
  parseDer,
  sequenceItems,
  smallIntegerValue,
} from '../cms/der-reader.js';
import { decryptWithPassword } from './decrypt.js';
import { Pkcs12Limits } from './limits.js';
import { verifyMacData } from './mac-data.js';
import { Pkcs12Oid } from './oids.js';
import { type PasswordBytes, passwordCandidates } from './password.js';
import { unsupportedAlgorithm } from './pkcs12-errors.js';
import { type Pkcs12Contents, SafeBagCollector } from './safe-bags.js';

/**
 * Reads a password-protected PKCS#12 file (RFC 7292): verifies the MAC when there is one, decrypts
 * every encryptedData and shrouded key, and returns the X.509 certificates and private keys.
 *
 * Throws DecodeError for malformed input, OutpostError badSignature for a wrong password (MAC
 * mismatch or bad padding), unsupportedAlgorithm (with re-export advice) for RC2/RC4, public-key
 * integrity or privacy modes, limit for oversized counts. A file without MacData is accepted: its
 * keys are still encrypted, and a wrong password then shows as a padding failure.
 *
 *   PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL }
 */
export function readPkcs12(der: Uint8Array, password: string): Pkcs12Contents {
  return decoding('PKCS#12', () => {
    const pfx = parseDer(der, 'PKCS#12', Pkcs12Limits.maxBytes);
    const [versionNode, authSafe, macData] = sequenceItems(pfx, 'PFX', 2, 3);
    if (smallIntegerValue(versionNode, 'PFX version') !== 3) throw new DecodeError('PFX version is not 3');
    // §4: password integrity mode wraps the AuthenticatedSafe in data; signedData is public-key integrity
    const authSafeContent = dataContent(authSafe, 'authSafe');
    const candidates = passwordCandidates(password);
    const verified =
      macData === undefined ? candidates[0]! : verifyMacData(macData, authSafeContent, candidates);
    return readAuthenticatedSafe(authSafeContent, verified);
  });
}

/** AuthenticatedSafe ::= SEQUENCE OF ContentInfo, each data (plain SafeContents) or encryptedData (§5.1). */
function readAuthenticatedSafe(der: Buffer, password: PasswordBytes): Pkcs12Contents {
  const items = sequenceItems(
    parseDer(der, 'AuthenticatedSafe', Pkcs12Limits.maxBytes),
    'AuthenticatedSafe',
    0,
    Pkcs12Limits.maxAuthSafeItems,
  );
  const collector = new SafeBagCollector(password);
  for (const contentInfo of items) {
    const [typeNode, contentNode] = sequenceItems(contentInfo, 'ContentInfo', 1, 2);
    const type = oidValue(typeNode, 'ContentInfo contentType');
    if (type === Pkcs12Oid.data) collector.addSafeContentsDer(dataContent(contentInfo, 'SafeContents'));
    else if (type === Pkcs12Oid.encryptedData)
      collector.addDecryptedSafeContents(
        decryptEncryptedData(explicitItem(contentNode, 0, 'encryptedData'), password),
      );
    else throw unsupportedAlgorithm('content type (public-key privacy mode)', type);
  }
  return collector.contents;
}

/** ContentInfo of type data: the OCTET STRING inside [0] EXPLICIT (RFC 5652 §3, §4). */
function dataContent(contentInfo: AsnNode | undefined, what: string): Buffer {
  const [typeNode, contentNode] = sequenceItems(contentInfo, what, 2);
  const type = oidValue(typeNode, `${what} contentType`);
  if (type !== Pkcs12Oid.data)
    throw unsupportedAlgorithm(`${what} content type (public-key integrity mode)`, type);
  return octetsValue(explicitItem(contentNode, 0, what), what);
}

/**
 *   EncryptedData ::= SEQUENCE { version INTEGER, encryptedContentInfo EncryptedContentInfo,
 *                                unprotectedAttrs [1] IMPLICIT OPTIONAL }        (RFC 5652 §8)
 *   EncryptedContentInfo ::= SEQUENCE { contentType OID, contentEncryptionAlgorithm AlgorithmIdentifier,
 *                                       encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL }
 */
function decryptEncryptedData(node: AsnNode, password: PasswordBytes): Buffer {
  const [, encryptedContentInfo] = sequenceItems(node, 'EncryptedData', 2, 3);
  const [contentType, algorithm, encrypted] = sequenceItems(encryptedContentInfo, 'EncryptedContentInfo', 3);
  if (oidValue(contentType, 'EncryptedContentInfo contentType') !== Pkcs12Oid.data) {
    throw new DecodeError('EncryptedContentInfo does not hold data');
  }
  const ciphertext = octetsValue(encrypted, 'encryptedContent', 0);
  return decryptWithPassword(algorithm, ciphertext, password, 'certificates');
}
