import type { ResolvedProfile } from '../ca/ca-backend.js';

export type SanKind = 'dns' | 'email' | 'uri' | 'ip' | 'upn';

/** A certificate profile with the rules a CSR must satisfy before it reaches the CA. */
export interface ProfilePolicy extends Omit<ResolvedProfile, 'keyUsage'> {
  /**
   * Key usage names; absent = by the request's key type (key-usage.ts: RSA digitalSignature +
   * keyEncipherment, EC digitalSignature). Listed encipherment usages are dropped for EC keys.
   */
  keyUsage?: string[];
  keyTypes: Array<'rsa' | 'ec'>;
  minRsaBits: number;
  /** 'manual' parks requests until `outpost certs approve`. */
  approval: 'auto' | 'manual';
  /** When set, the RFC 4514 subject text must match it. */
  subjectPattern?: RegExp;
  /** SAN kinds a request may carry; others are refused. */
  allowedSanTypes: SanKind[];
}
