import { DecodeError } from '../core/errors.js';
import { type AsnNode, parseDer } from './der-reader.js';

/**
 * Resource limits for untrusted X.509/PKCS#10 input (DESIGN rule 4), the same as asn1.ts gives
 * asn1js: depth 32 is far beyond any certificate or CSR structure, the element count bounds the
 * work per request. The byte bound is asn1js's default content limit; callers check tighter sizes
 * (MAX_CSR_BYTES, the certificate limit) before decoding.
 */
const X509_LIMITS = { maxDepth: 32, maxNodes: 4096 } as const;
const MAX_BYTES = 16 * 1024 * 1024;

/** Decodes exactly one BER/DER element spanning all of `bytes`; DecodeError otherwise. */
export function decodeX509Der(bytes: Uint8Array, what: string): AsnNode {
  return parseDer(bytes, what, MAX_BYTES, X509_LIMITS);
}

/**
 * Children of a SEQUENCE, SET or constructed tagged element ([n], also APPLICATION/PRIVATE); a
 * constructed string (BER segments) is not a structure. DecodeError otherwise.
 */
export function childNodes(node: AsnNode | undefined, what: string): AsnNode[] {
  if (
    node === undefined ||
    !node.constructed ||
    (node.tagClass === 0 && node.tagNumber !== 16 && node.tagNumber !== 17)
  )
    throw new DecodeError(`${what}: expected a constructed element`);
  return node.children;
}
