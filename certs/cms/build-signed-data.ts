import type { HashName, Signer } from '../signer.js';
import { certificateRef } from './certificate-ref.js';
import { wrapContentInfo } from './content-info.js';
import {
  contextConstructed,
  objectIdentifier,
  octetString,
  retag,
  sequence,
  setOf,
  smallInteger,
  tlv,
} from './der-writer.js';
import { digest, digestAlgorithmDer } from './digest-algorithms.js';
import { Oid } from './oids.js';
import { signatureAlgorithmDer } from './signature-algorithms.js';

export interface SignedAttributeInput {
  oid: string;
  /** DER of each value. */
  values: Uint8Array[];
}

export interface BuildSignedDataInput {
  contentType: string;
  /** eContent octets; omitted for content-less messages (SCEP PENDING/FAILURE CertRep). */
  content?: Uint8Array;
  /** Certificates to include, in this order. */
  certificates?: Uint8Array[];
  signerCertDer: Uint8Array;
  signer: Signer;
  hash: HashName;
  /** Extra signed attributes; content-type and message-digest are always added (RFC 5652 §5.3). */
  signedAttributes?: SignedAttributeInput[];
}

function attribute(oid: string, values: readonly Uint8Array[]): Buffer {
  return sequence(objectIdentifier(oid), setOf(values));
}

/**
 * Builds ContentInfo(SignedData) with one SignerInfo identified by issuer and serial (version 1).
 * The signed attributes are encoded once as a DER SET OF, signed, and retagged [0] IMPLICIT.
 * signingTime is deliberately not added: SCEP does not use it and it would cost a clock read.
 */
export function buildSignedData(input: BuildSignedDataInput): Buffer {
  const content = input.content ?? Buffer.alloc(0);
  const signedAttrs = setOf([
    attribute(Oid.contentType, [objectIdentifier(input.contentType)]),
    attribute(Oid.messageDigest, [octetString(digest(input.hash, content))]),
    ...(input.signedAttributes ?? []).map((a) => attribute(a.oid, a.values)),
  ]);
  const signature = input.signer.sign(signedAttrs, input.hash);
  const signerCert = certificateRef(input.signerCertDer);
  const signerInfo = sequence(
    smallInteger(1),
    sequence(signerCert.issuerDer, tlv(0x02, signerCert.serial)),
    digestAlgorithmDer(input.hash),
    retag(signedAttrs, 0xa0),
    signatureAlgorithmDer(input.signer.keyType, input.hash),
    octetString(signature),
  );
  return assemble(
    input.contentType,
    input.content,
    input.certificates ?? [],
    [digestAlgorithmDer(input.hash)],
    [signerInfo],
  );
}

/**
 * A degenerate "certs-only" SignedData (RFC 8894 §3.4, RFC 5652 §5.2): no signers, no content.
 * Order is kept: scepclient takes the first certificate as the issued one.
 */
export function buildDegenerateCertsOnly(certificates: Uint8Array[], crls: Uint8Array[] = []): Buffer {
  return assemble(Oid.data, undefined, certificates, [], [], crls);
}

function assemble(
  contentType: string,
  content: Uint8Array | undefined,
  certificates: Uint8Array[],
  digestAlgorithms: Buffer[],
  signerInfos: Buffer[],
  crls: Uint8Array[] = [],
): Buffer {
  const encapContentInfo =
    content === undefined
      ? sequence(objectIdentifier(contentType))
      : sequence(objectIdentifier(contentType), contextConstructed(0, octetString(content)));
  const parts = [smallInteger(1), setOf(digestAlgorithms), encapContentInfo];
  if (certificates.length > 0) parts.push(contextConstructed(0, ...certificates));
  if (crls.length > 0) parts.push(contextConstructed(1, ...crls));
  parts.push(setOf(signerInfos));
  return wrapContentInfo(Oid.signedData, sequence(...parts));
}
