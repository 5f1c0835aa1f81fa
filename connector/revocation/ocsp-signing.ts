import type { Signer } from '../../certs/signer.js';

/** The delegated OCSP signing certificate (RFC 6960 §4.2.2.2) and its key, as the responder uses them. */
export interface OcspSigningIdentity {
  certDer: Buffer;
  spkiDer: Buffer;
  signer: Signer;
}

/**
 * Where the responder gets its signing identity. The source renews the certificate before it
 * expires; `current` may therefore do I/O and key generation now and then. Throws OutpostError
 * `unavailable` when no valid identity can be had (answered tryLater).
 */
export interface OcspSigningSource {
  current(now: Date): Promise<OcspSigningIdentity>;
}
