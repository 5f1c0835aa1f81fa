import type { DistinguishedName, ParsedCsr, SubjectAltNames } from '../../../certs/csr.js';
import type { ParsedCertificate } from '../../../certs/parsed-certificate.js';
import type { ExtraExtension } from '../../ca/ca-backend.js';

/** What an account is looked up by (names of the directory's attribute mapping). */
export type LookupBy = 'upn' | 'mail' | 'sAMAccountName';

/** An enabled directory account's identity attributes; directory/LdapDirectory provides them. */
export interface AccountIdentity {
  dn: string;
  userPrincipalName?: string;
  mail?: string;
  sAMAccountName?: string;
  /** "S-1-5-21-…" */
  objectSid?: string;
}

/**
 * What enrichment needs from a directory (DESIGN rule 3). Throws OutpostError `unauthorized` for
 * a missing, ambiguous or disabled account (final) and `unavailable` when the directory cannot
 * answer in time (retryable). directory/LdapDirectory.findIdentity satisfies it.
 */
export interface IdentityDirectory {
  findIdentity(by: LookupBy | 'objectSid', value: string): Promise<AccountIdentity>;
}

/** The request as enrichment sees it. */
export interface EnrichmentRequest {
  csr: ParsedCsr;
  /** Claims of the challenge (JWS userId / deviceId), or those a link job carries. */
  claims: { userId?: string; deviceId?: string };
  /** The certificate a RenewalReq replaces: its SID (if any) finds the same account again. */
  renewing?: ParsedCertificate;
}

/** What the CA is asked to issue instead of (or beside) the CSR's contents. */
export interface EnrichedIssue {
  account: AccountIdentity;
  /** Rendered subject; absent = the CSR's subject. */
  subject?: DistinguishedName;
  sans: SubjectAltNames;
  extraExtensions: ExtraExtension[];
}

/** The policy step the Authority runs for profiles bound to a directory. */
export interface IssuanceEnrichment {
  /** undefined when `profile` has no directory. */
  enrich(profile: string, request: EnrichmentRequest): Promise<EnrichedIssue | undefined>;
  /** Whether `profile` is enriched (its subject comes from the directory, not the requester). */
  enriches(profile: string): boolean;
}
