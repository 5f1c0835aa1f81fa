import type { KeyObject } from 'node:crypto';
import { publicKeyFromSpki } from '../public-key-cache.js';
import {
  type AsnNode,
  decoding,
  explicitItem,
  integerBytes,
  isContextTag,
  octetsValue,
  oidValue,
  parseDer,
  rawDer,
  sequenceItems,
} from './der-reader.js';
import { Oid } from './oids.js';

/**
 * The parts of an X.509 certificate that CMS needs to name it (IssuerAndSerialNumber or
 * SubjectKeyIdentifier, RFC 5652 §10.2.4 / §5.3) and to use its key. Not a certificate parser:
 * the full parser lives in certs/, this only walks TBSCertificate far enough.
 */
export interface CertificateRef {
  der: Buffer;
  issuerDer: Buffer;
  /** Serial number INTEGER contents as encoded. */
  serial: Buffer;
  subjectDer: Buffer;
  spkiDer: Buffer;
  subjectKeyIdentifier?: Buffer;
  /** Public key, created on first use. */
  publicKey(): KeyObject;
}

/** A signer or recipient identifier (SignerIdentifier / RecipientIdentifier). */
export type CmsIdentifier =
  | { kind: 'issuerAndSerial'; issuerDer: Buffer; serial: Buffer }
  | { kind: 'subjectKeyIdentifier'; subjectKeyIdentifier: Buffer };

const MAX_CERTIFICATE_BYTES = 64 * 1024;
const MAX_EXTENSIONS = 64;

/** Nodes of certificates already parsed as part of a larger message, so they are not parsed twice. */
const parsedCertificates = new WeakMap<Uint8Array, AsnNode>();
const refCache = new WeakMap<Uint8Array, CertificateRef>();

export function rememberParsedCertificate(der: Buffer, node: AsnNode): void {
  parsedCertificates.set(der, node);
}

/** Reads a certificate's identifying fields; cached per DER buffer (RA certificates are reused). */
export function certificateRef(der: Uint8Array): CertificateRef {
  let ref = refCache.get(der);
  if (!ref) {
    ref = decoding('certificate', () => readCertificate(der));
    refCache.set(der, ref);
  }
  return ref;
}

function readCertificate(der: Uint8Array): CertificateRef {
  const node = parsedCertificates.get(der) ?? parseDer(der, 'certificate', MAX_CERTIFICATE_BYTES);
  const [tbs] = sequenceItems(node, 'certificate', 3);
  const fields = sequenceItems(tbs, 'tbsCertificate', 6, 10);
  // version [0] EXPLICIT is optional (v1 certificates omit it)
  const at = isContextTag(fields[0], 0) ? 1 : 0;
  const serial = integerBytes(fields[at], 'serialNumber');
  const issuer = fields[at + 2];
  const subject = fields[at + 4];
  const spki = fields[at + 5];
  sequenceItems(issuer, 'issuer', 0, 1024);
  sequenceItems(subject, 'subject', 0, 1024);
  sequenceItems(spki, 'subjectPublicKeyInfo', 2);
  const extensions = fields.slice(at + 6).find((field) => isContextTag(field, 3));
  const spkiDer = rawDer(spki!);
  let publicKey: KeyObject | undefined;
  return {
    der: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
    issuerDer: rawDer(issuer!),
    serial,
    subjectDer: rawDer(subject!),
    spkiDer,
    subjectKeyIdentifier: extensions ? findSubjectKeyIdentifier(extensions) : undefined,
    publicKey() {
      publicKey ??= decoding('subjectPublicKeyInfo', () => publicKeyFromSpki(spkiDer));
      return publicKey;
    },
  };
}

function findSubjectKeyIdentifier(extensionsTag: AsnNode): Buffer | undefined {
  const list = explicitItem(extensionsTag, 3, 'extensions');
  for (const extension of sequenceItems(list, 'extensions', 0, MAX_EXTENSIONS)) {
    const parts = sequenceItems(extension, 'extension', 2, 3);
    if (oidValue(parts[0], 'extnID') !== Oid.subjectKeyIdentifier) continue;
    const extnValue = octetsValue(parts[parts.length - 1], 'extnValue');
    return octetsValue(parseDer(extnValue, 'subjectKeyIdentifier', extnValue.length), 'subjectKeyIdentifier');
  }
  return undefined;
}

/** Reads SignerIdentifier / RecipientIdentifier: IssuerAndSerialNumber or [0] SubjectKeyIdentifier. */
export function readCmsIdentifier(node: AsnNode | undefined, what: string): CmsIdentifier {
  if (isContextTag(node, 0)) {
    return { kind: 'subjectKeyIdentifier', subjectKeyIdentifier: octetsValue(node, what, 0) };
  }
  const [issuer, serial] = sequenceItems(node, what, 2);
  sequenceItems(issuer, `${what} issuer`, 0, 1024);
  return {
    kind: 'issuerAndSerial',
    issuerDer: rawDer(issuer!),
    serial: integerBytes(serial, `${what} serial`),
  };
}

/** Matches an identifier against a certificate (byte equality of issuer Name and serial). */
export function identifies(id: CmsIdentifier, cert: CertificateRef): boolean {
  if (id.kind === 'subjectKeyIdentifier') {
    return (
      cert.subjectKeyIdentifier !== undefined && id.subjectKeyIdentifier.equals(cert.subjectKeyIdentifier)
    );
  }
  return id.serial.equals(cert.serial) && id.issuerDer.equals(cert.issuerDer);
}

/** The certificate among `candidates` that `id` names, or undefined; order is never trusted. */
export function findIdentified(
  id: CmsIdentifier,
  candidates: readonly Uint8Array[],
): CertificateRef | undefined {
  for (const der of candidates) {
    const ref = certificateRef(der);
    if (identifies(id, ref)) return ref;
  }
  return undefined;
}
