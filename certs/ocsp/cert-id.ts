import { createHash } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import {
  type AsnNode,
  bitStringValue,
  integerBytes,
  octetsValue,
  oidValue,
  rawDer,
  sequenceItems,
} from '../der-reader.js';
import { algorithmIdentifier, derNull, octetString, sequence, tlv } from '../der-writer.js';
import { Oid } from '../oids.js';
import { keyIdentifier } from '../parsed-certificate.js';
import type { HashName } from '../signer.js';
import { childNodes, decodeX509Der } from '../x509-der.js';

/**
 * CertID (RFC 6960 §4.1.1): the certificate asked about, named by hashes of its issuer's name and
 * key plus its serial number. `der` is the CertID exactly as received: the SingleResponse echoes
 * it byte for byte, which is what clients (OpenSSL's OCSP_id_cmp) compare against.
 */
export interface CertId {
  /** The hash the client used, or undefined when it is one we do not compute (answered unknown). */
  hash: HashName | undefined;
  hashOid: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** INTEGER content octets in lower-case hex, as the inventory stores serials. */
  serialHex: string;
  der: Buffer;
}

export const CERT_ID_HASHES: ReadonlyMap<string, HashName> = new Map<string, HashName>([
  [Oid.sha1, 'sha1'],
  [Oid.sha256, 'sha256'],
  [Oid.sha384, 'sha384'],
  [Oid.sha512, 'sha512'],
]);

const HASH_OIDS: Record<HashName, string> = {
  sha1: Oid.sha1,
  sha256: Oid.sha256,
  sha384: Oid.sha384,
  sha512: Oid.sha512,
};

/** What a CertID's issuer hashes are computed over. */
export interface IssuerIdentity {
  /** DER of the issuer's subject Name (= the issuer field of the certificates it signed). */
  subjectDer: Uint8Array;
  spkiDer: Uint8Array;
}

export interface IssuerHashes {
  nameHash: Buffer;
  keyHash: Buffer;
}

/**
 * §4.1.1: issuerNameHash over the DER of the issuer's distinguished name, issuerKeyHash over the
 * value of the subjectPublicKey BIT STRING (no tag, length or unused-bits octet).
 */
export function issuerHashes(issuer: IssuerIdentity, hash: HashName): IssuerHashes {
  return {
    nameHash: createHash(hash).update(issuer.subjectDer).digest(),
    keyHash: createHash(hash).update(publicKeyBits(issuer.spkiDer)).digest(),
  };
}

/** SHA-1 of the public key bits: ResponderID byKey (§4.2.1) and the RFC 5280 key identifier. */
export function responderKeyHash(spkiDer: Uint8Array): Buffer {
  return keyIdentifier(spkiDer);
}

function publicKeyBits(spkiDer: Uint8Array): Buffer {
  const [, bits] = childNodes(decodeX509Der(spkiDer, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  return bitStringValue(bits, 'subjectPublicKey').bytes;
}

/**
 * Builds a CertID (client side and tests) for the serial given as INTEGER content octets in hex.
 * The hash AlgorithmIdentifier carries NULL parameters, as OpenSSL writes it.
 */
export function encodeCertId(issuer: IssuerIdentity, serialHex: string, hash: HashName): Buffer {
  if (!/^([0-9a-f]{2})+$/i.test(serialHex)) throw new DecodeError(`bad serial ${serialHex}`);
  const { nameHash, keyHash } = issuerHashes(issuer, hash);
  return sequence(
    algorithmIdentifier(HASH_OIDS[hash], derNull),
    octetString(nameHash),
    octetString(keyHash),
    tlv(0x02, Buffer.from(serialHex, 'hex')),
  );
}

/** Largest hash we accept in a CertID (SHA-512) and longest serial (RFC 5280 §4.1.2.2 says 20). */
const MAX_HASH_BYTES = 64;
const MAX_SERIAL_BYTES = 64;

/** Reads one CertID node; the hash algorithm's parameters (NULL or absent) are not looked at. */
export function certIdFromNode(node: AsnNode | undefined): CertId {
  const [algorithm, nameHash, keyHash, serial] = sequenceItems(node, 'CertID', 4);
  const [oid] = sequenceItems(algorithm, 'CertID hashAlgorithm', 1, 2);
  const hashOid = oidValue(oid, 'CertID hashAlgorithm');
  const issuerNameHash = octetsValue(nameHash, 'issuerNameHash');
  const issuerKeyHash = octetsValue(keyHash, 'issuerKeyHash');
  if (issuerNameHash.length > MAX_HASH_BYTES || issuerKeyHash.length > MAX_HASH_BYTES)
    throw new DecodeError('CertID: hash too long');
  const serialBytes = integerBytes(serial, 'CertID serialNumber');
  if (serialBytes.length > MAX_SERIAL_BYTES) throw new DecodeError('CertID: serial number too long');
  return {
    hash: CERT_ID_HASHES.get(hashOid),
    hashOid,
    issuerNameHash,
    issuerKeyHash,
    serialHex: serialBytes.toString('hex'),
    der: rawDer(node!),
  };
}
