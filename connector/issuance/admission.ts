import { createHash } from 'node:crypto';
import type { ParsedCsr, SubjectAltNames } from '../../certs/csr.js';
import { csrRequestInfoDer } from '../../certs/csr.js';
import type { OutpostError } from '../../core/errors.js';
import type { IssuedCertificate, IssueRequest } from '../ca/ca-backend.js';
import type { ChallengeUse, InventoryRecord } from '../ports.js';
import type { CsrExpectations } from './challenge/expectations.js';
import type { UsagesToIssue } from './csr-policy.js';
import type { EnrichedIssue, EnrichmentRequest } from './enrichment/ports.js';
import type { ProfilePolicy } from './profile-policy.js';

export type EnrollOutcome =
  | { status: 'issued'; record: InventoryRecord }
  | { status: 'pending'; transactionId: string };

export interface EnrollRequest {
  csr: ParsedCsr;
  transactionId: string;
  /** Who asked, for the inventory: e.g. "scep:192.0.2.7". */
  requester: string;
}

export interface RenewalRequest extends EnrollRequest {
  /** DER of the certificate that signed the RenewalReq (RFC 8894 §3.3.1.2). */
  signerCertDer: Buffer;
}

export interface AuthorityEvents {
  issued?(record: InventoryRecord, via: string): void;
  refused?(error: OutpostError, transactionId: string): void;
  /**
   * The profile (or challenge) lists key usages the request's key cannot have (keyEncipherment or
   * dataEncipherment for an EC key, RFC 5480 §3): the certificate is issued without them.
   */
  keyUsageDropped?(profile: string, dropped: string[], requester: string): void;
}

/** What enrichment knows about a request besides its CSR: claims, and the certificate a renewal replaces. */
export type EnrichmentContext = Omit<EnrichmentRequest, 'csr'>;

/**
 * One request on its way through the authority, from the step that authorized it (a challenge, the
 * certificate a renewal replaces, a link job or an admin) through the admission chain
 * (admission-chain.ts: CSR policy, directory enrichment, CA, inventory). Each step reads it and
 * the later ones see what the earlier ones found (CheckedAdmission, EnrichedAdmission).
 */
export interface Admission {
  readonly csr: ParsedCsr;
  /** Who asked, for the inventory. */
  readonly requester: string;
  /** The SCEP transaction; absent for a direct issue (there is nothing to poll). */
  readonly transactionId?: string;
  /** How it was authorized, for the `issued` event: challenge:…, renewal:…, approval, ca, or the requester. */
  readonly via: string;
  readonly profile: ProfilePolicy;
  /** What the challenge pins (the JWS claims); empty unless a challenge authorized the request. */
  readonly expectations: CsrExpectations;
  readonly context: EnrichmentContext;
  /** The challenge hold spent with the inventory row or the PENDING row (issue 11 #3). */
  readonly spending?: ChallengeUse;
}

/** After the CSR policy: the key usages and EKUs the certificate gets. */
export interface CheckedAdmission extends Admission {
  readonly usages: UsagesToIssue;
}

/** After the directory: what the CA issues instead of the CSR's subject and SANs (enriched profiles). */
export interface EnrichedAdmission extends CheckedAdmission {
  readonly enriched?: EnrichedIssue;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What tells a retried request from a new one: the CSR minus its (possibly randomized) signature. */
export function requestHash(csrDer: Uint8Array): string {
  return sha256Hex(csrRequestInfoDer(csrDer));
}

function flattenSans(sans: SubjectAltNames): string[] {
  return (['dns', 'email', 'uri', 'ip', 'upn'] as const).flatMap((kind) =>
    sans[kind].map((v) => `${kind}:${v}`),
  );
}

/** What the CA is asked: the same request for `issue` and for every later `poll` of it. */
export function issueRequest(a: EnrichedAdmission): IssueRequest {
  const { enriched } = a;
  return {
    csr: a.csr,
    profile: { ...a.profile, keyUsage: a.usages.keyUsage, eku: a.usages.eku },
    requester: a.requester,
    ...(enriched
      ? {
          sans: enriched.sans,
          ...(enriched.subject ? { subject: enriched.subject.der } : {}),
          ...(enriched.extraExtensions.length > 0 ? { extraExtensions: enriched.extraExtensions } : {}),
        }
      : {}),
  };
}

/** The inventory row of a certificate the CA issued for `a`. */
export function inventoryRecord(
  a: Admission & { enriched?: EnrichedIssue },
  issued: IssuedCertificate,
): InventoryRecord {
  return {
    serialHex: issued.serialHex,
    subject: (a.enriched?.subject ?? a.csr.subject).text,
    sans: flattenSans(a.enriched?.sans ?? a.csr.sans),
    profile: a.profile.name,
    requester: a.requester,
    ...(a.transactionId !== undefined ? { transactionId: a.transactionId } : {}),
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    status: 'valid',
    thumbprint: sha256Hex(issued.der),
    der: issued.der,
    requestHash: requestHash(a.csr.der),
  };
}
