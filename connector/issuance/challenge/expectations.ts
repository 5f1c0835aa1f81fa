import type { ChallengeUse } from '../ports.js';

/**
 * What a challenge may pin about the request. A JWS challenge carries these as claims; the CSR
 * must match each one that is present (DESIGN "Challenges").
 */
export interface CsrExpectations {
  /** RFC 4514 subject, compared after normalization. */
  subject?: string;
  sans?: { dns?: string[]; email?: string[]; uri?: string[]; ip?: string[]; upn?: string[] };
  /** Key usage names the certificate will carry; a CSR that requests others is refused. */
  keyUsage?: string[];
  /** EKU names or OIDs the certificate will carry; a CSR that requests others is refused. */
  eku?: string[];
  /** Exact key size in bits (RSA modulus or EC field size). */
  keySize?: number;
  profile?: string;
  deviceId?: string;
  userId?: string;
}

/** The outcome of a successful challenge check. */
export interface ChallengeGrant {
  kind: 'static' | 'one-time' | 'jws';
  /** Profile the challenge selects, if any. */
  profile?: string;
  expectations: CsrExpectations;
  /** Token id (jti) or a hash prefix: safe to log, never the secret. */
  reference: string;
  /** Single-use kinds: the hold to spend with the certificate, or to release on refusal. */
  use?: ChallengeUse;
}
