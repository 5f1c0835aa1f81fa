import { createPrivateKey, type KeyObject } from 'node:crypto';
import { DecodeError, ErrorCodes, OutpostError } from '../../core/errors.js';
import {
  type AsnNode,
  explicitItem,
  octetsValue,
  oidValue,
  parseDer,
  rawDer,
  sequenceItems,
  setItems,
} from '../cms/der-reader.js';
import { decryptWithPassword } from './decrypt.js';
import { Pkcs12Limits } from './limits.js';
import { Pkcs12Oid } from './oids.js';
import type { PasswordBytes } from './password.js';
import { wrongPassword } from './pkcs12-errors.js';

/** A private key from a keyBag or pkcs8ShroudedKeyBag, with the attributes that pair it with a cert. */
export interface Pkcs12Key {
  privateKey: KeyObject;
  /** PKCS#9 localKeyId (RFC 2985 §5.5.2): the same bytes sit on the matching certificate's bag. */
  localKeyId?: Buffer;
  friendlyName?: string;
}

export interface Pkcs12Contents {
  /** X.509 certificates (DER), in file order. */
  certificates: Buffer[];
  keys: Pkcs12Key[];
}

interface BagAttributes {
  localKeyId?: Buffer;
  friendlyName?: string;
}

const BMP_STRING = 30;

/**
 * Collects the certificates and keys of SafeContents (RFC 7292 §4.2). CRL and secret bags, and
 * certificate types other than X.509, are skipped: importing a CA needs neither.
 */
export class SafeBagCollector {
  readonly contents: Pkcs12Contents = { certificates: [], keys: [] };
  private bagCount = 0;

  constructor(private readonly password: PasswordBytes) {}

  /** SafeContents ::= SEQUENCE OF SafeBag, as DER (the content of a data ContentInfo). */
  addSafeContentsDer(der: Buffer): void {
    this.addSafeContents(parseDer(der, 'SafeContents', Pkcs12Limits.maxBytes), 0);
  }

  /**
   * SafeContents just decrypted from an encryptedData. Plaintext that does not parse means the key
   * was wrong (CBC padding is right by chance 1 time in 256 or so), so it is reported as such.
   */
  addDecryptedSafeContents(plaintext: Buffer): void {
    let node: AsnNode;
    try {
      node = parseDer(plaintext, 'SafeContents', Pkcs12Limits.maxBytes);
    } catch (cause) {
      throw wrongPassword('decrypted SafeContents do not parse', cause);
    }
    this.addSafeContents(node, 0);
  }

  private addSafeContents(node: AsnNode, nesting: number): void {
    if (nesting > Pkcs12Limits.maxBagNesting) throw new DecodeError('SafeContents nested too deeply');
    for (const bag of sequenceItems(node, 'SafeContents', 0, Pkcs12Limits.maxBags)) {
      if (++this.bagCount > Pkcs12Limits.maxBags) {
        throw new OutpostError(ErrorCodes.limit, 'PKCS#12 holds too many bags');
      }
      this.addBag(bag, nesting);
    }
  }

  /** SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OF PKCS12Attribute OPTIONAL } */
  private addBag(bag: AsnNode, nesting: number): void {
    const [idNode, valueNode, attributesNode] = sequenceItems(bag, 'SafeBag', 2, 3);
    const bagId = oidValue(idNode, 'SafeBag bagId');
    const value = explicitItem(valueNode, 0, 'SafeBag bagValue');
    switch (bagId) {
      case Pkcs12Oid.keyBag: // §4.2.1: a plain PrivateKeyInfo
        this.addKey(rawDer(value), attributesNode);
        return;
      case Pkcs12Oid.pkcs8ShroudedKeyBag: // §4.2.2: EncryptedPrivateKeyInfo (RFC 5958 §3)
        this.addKey(this.decryptShroudedKey(value), attributesNode, true);
        return;
      case Pkcs12Oid.certBag:
        this.addCertificate(value);
        return;
      case Pkcs12Oid.safeContentsBag: // §4.2.6: nested SafeContents
        this.addSafeContents(value, nesting + 1);
        return;
      default: // crlBag, secretBag, unknown: not needed to import a CA
        return;
    }
  }

  /** EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING } */
  private decryptShroudedKey(value: AsnNode): Buffer {
    const [algorithm, encrypted] = sequenceItems(value, 'EncryptedPrivateKeyInfo', 2);
    return decryptWithPassword(
      algorithm,
      octetsValue(encrypted, 'encryptedData'),
      this.password,
      'private key',
    );
  }

  /** A decrypted key that does not load is, as above, most likely a wrong password. */
  private addKey(pkcs8: Buffer, attributesNode: AsnNode | undefined, decrypted = false): void {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    } catch (cause) {
      if (decrypted) throw wrongPassword('decrypted private key does not load', cause);
      throw new DecodeError('PKCS#12 private key is not a readable PKCS#8 key', { cause });
    }
    this.contents.keys.push({ privateKey, ...readAttributes(attributesNode) });
  }

  /** CertBag ::= SEQUENCE { certId OID, certValue [0] EXPLICIT OCTET STRING } (§4.2.3) */
  private addCertificate(value: AsnNode): void {
    const [certIdNode, certValueNode] = sequenceItems(value, 'CertBag', 2);
    if (oidValue(certIdNode, 'CertBag certId') !== Pkcs12Oid.x509Certificate) return; // SDSI: skip
    const der = octetsValue(explicitItem(certValueNode, 0, 'CertBag certValue'), 'x509Certificate');
    // one DER element, no trailing bytes; the caller parses the certificate itself
    sequenceItems(parseDer(der, 'x509Certificate', Pkcs12Limits.maxBytes), 'x509Certificate', 3);
    this.contents.certificates.push(Buffer.from(der));
  }
}

/** PKCS12Attribute ::= SEQUENCE { attrId OID, attrValues SET OF ANY }; only the first value is read. */
function readAttributes(node: AsnNode | undefined): BagAttributes {
  if (node === undefined) return {};
  const attributes: BagAttributes = {};
  for (const attribute of setItems(node, 'bagAttributes', Pkcs12Limits.maxAttributes)) {
    const [idNode, valuesNode] = sequenceItems(attribute, 'PKCS12Attribute', 2);
    const id = oidValue(idNode, 'PKCS12Attribute attrId');
    const [first] = setItems(valuesNode, 'PKCS12Attribute attrValues', Pkcs12Limits.maxAttributes);
    if (first === undefined) continue;
    if (id === Pkcs12Oid.localKeyId) attributes.localKeyId = Buffer.from(octetsValue(first, 'localKeyId'));
    else if (id === Pkcs12Oid.friendlyName) attributes.friendlyName = bmpStringValue(first);
  }
  return attributes;
}

/** friendlyName is a BMPString (RFC 2985 §5.5.1): UTF-16BE. */
function bmpStringValue(node: AsnNode): string {
  if (node.tagClass !== 0 || node.tagNumber !== BMP_STRING || node.constructed) {
    throw new DecodeError('friendlyName: expected BMPString');
  }
  const bytes = Buffer.from(node.source.subarray(node.contentStart, node.contentEnd));
  if (bytes.length % 2 !== 0) throw new DecodeError('friendlyName: odd BMPString length');
  return bytes.swap16().toString('utf16le');
}
