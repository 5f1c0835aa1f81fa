import type { ResolvedProfile } from '../ca/ca-backend.js';

export type SanKind = 'dns' | 'email' | 'uri' | 'ip' | 'upn';

/** A certificate profile with the rules a CSR must satisfy before it reaches the CA. */
export interface ProfilePolicy extends ResolvedProfile {
  keyTypes: Array<'rsa' | 'ec'>;
  minRsaBits: number;
  /** 'manual' parks requests until `outpost certs approve`. */
  approval: 'auto' | 'manual';
  /** When set, the RFC 4514 subject text must match it. */
  subjectPattern?: RegExp;
  /** SAN kinds a request may carry; others are refused. */
  allowedSanTypes: SanKind[];
}
