import type { KeyObject } from 'node:crypto';
import { DecodeError } from '../core/errors.js';

/** One attribute of a distinguished name, e.g. { oid: '2.5.4.3', value: 'device-1' }. */
export interface NameAttribute {
  oid: string;
  value: string;
}

export interface DistinguishedName {
  /** RDNs in encoding order (first = most significant, e.g. C before CN). */
  rdns: NameAttribute[][];
  /** RFC 4514 string (most specific first, e.g. "CN=device-1,OU=Devices,O=Example,C=US"). */
  text: string;
  /** DER of the Name as it appeared. */
  der: Buffer;
}

export interface SubjectAltNames {
  dns: string[];
  email: string[];
  uri: string[];
  ip: string[];
  /** Microsoft UPN otherName (1.3.6.1.4.1.311.20.2.3). */
  upn: string[];
}

export interface ParsedCsr {
  der: Buffer;
  subject: DistinguishedName;
  publicKey: KeyObject;
  spkiDer: Buffer;
  keyType: 'rsa' | 'ec';
  /** RSA modulus bits, or EC field size bits (256 for P-256). */
  keyBits: number;
  /** Named curve for EC keys, e.g. 'P-256'. */
  curve?: string;
  sans: SubjectAltNames;
  /** PKCS#9 challengePassword attribute, if present. */
  challengePassword?: string;
  /** Key usage names requested through the extensionRequest attribute. */
  requestedKeyUsage: string[];
  /** EKU names (or dotted OIDs when unknown) requested through the extensionRequest attribute. */
  requestedEku: string[];
  /** The CSR's self-signature verified with its own public key. */
  signatureValid: boolean;
}

/** Parses a DER PKCS#10 request. Throws DecodeError on anything malformed. */
export function parseCsr(der: Uint8Array): ParsedCsr {
  throw new DecodeError(`parseCsr not implemented (${der.length} bytes)`);
}
