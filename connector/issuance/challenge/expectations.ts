import type { ScepChallengeClaims } from '../../../link/schema/scep-challenge-claims.js';
import type { ChallengeUse } from '../../ports.js';

/**
 * What a challenge may pin about the request: the JWS challenge's claims (one schema, shared with
 * the cloud that mints them). The CSR must match each one that is present (DESIGN "Challenges").
 */
export type CsrExpectations = ScepChallengeClaims;

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
