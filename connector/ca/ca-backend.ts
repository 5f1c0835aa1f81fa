import type { KeyObject } from 'node:crypto';
import type { ParsedCsr } from '../../certs/csr.js';
import type { RevocationReason } from '../../link/schema/revocation-reason.js';

/** The certificate profile after config resolution: what the CA puts into the certificate. */
export interface ResolvedProfile {
  name: string;
  validityDays: number;
  /** RFC 5280 key usage names, e.g. digitalSignature, keyEncipherment. */
  keyUsage: string[];
  /** Extended key usage names (clientAuth, serverAuth, emailProtection, codeSigning, …) or dotted OIDs. */
  eku: string[];
}

export interface IssueRequest {
  csr: ParsedCsr;
  profile: ResolvedProfile;
  /** Who asked (SCEP transaction id, CLI user, job id): stored in the inventory. */
  requester: string;
  /** SANs to put into the certificate (already checked against policy). Defaults to the CSR's. */
  sans?: ParsedCsr['sans'];
  /**
   * DER of the Name to issue to, replacing the CSR's subject (directory enrichment renders it from
   * the profile's subject template). Defaults to the CSR's subject.
   */
  subject?: Buffer;
  /**
   * Extensions to add beside the profile's (e.g. the KB5014754 SID extension). A backend that
   * cannot carry custom extensions must refuse the request rather than drop them silently.
   */
  extraExtensions?: ExtraExtension[];
  /**
   * The CSR's private key when Outpost generated the key itself (server-side keys): a backend may
   * then build a CSR of its own for the same key, e.g. with an upstream SCEP CA's challenge.
   */
  subjectKey?: KeyObject;
}

/** One X.509 extension as the CA should write it: `valueDer` is the DER inside extnValue. */
export interface ExtraExtension {
  /** Dotted OID. */
  oid: string;
  critical: boolean;
  valueDer: Buffer;
}

export interface IssuedCertificate {
  /** DER of the issued certificate. */
  der: Buffer;
  /** Lower-case hex, no leading zeros stripped beyond DER's own encoding. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** The CA accepted the request but has not issued yet (an upstream SCEP CA answering PENDING). */
export interface PendingIssue {
  pending: true;
}

export type IssueResult = IssuedCertificate | PendingIssue;

export function isPendingIssue(result: IssueResult): result is PendingIssue {
  return 'pending' in result;
}

export interface BackendHealth {
  ok: boolean;
  /** Safe to show on /readyz: no secrets, no internal detail. */
  detail?: string;
}

/**
 * What the issuance authority needs from a CA. Backends are chosen by `connector.ca.type`.
 * Throws OutpostError: `unavailable` (retryable) when the CA cannot be reached, `conflict` when
 * a certificate is already revoked, `notFound` for an unknown serial, `unsupported` for an
 * operation the CA does not have (revocation at an upstream SCEP CA).
 */
export interface CaBackend {
  readonly type: string;
  issue(req: IssueRequest): Promise<IssueResult>;
  /**
   * Asks again about a request `issue` answered pending, with the same IssueRequest; `since` is
   * when it was first sent. Only backends that can answer pending have it. Throws `badRequest`
   * once the CA refused the request or gave up on it.
   */
  poll?(req: IssueRequest, since: Date): Promise<IssueResult>;
  revoke(serialHex: string, reason: RevocationReason): Promise<void>;
  /** DER of the CA chain, issuing CA first, root last. */
  caChain(): Buffer[];
  /** DER of the current CRL, if this backend publishes one. */
  currentCrl(): Buffer | undefined;
  /** Whether the CA answers now (bounded by the backend's timeout); absent = always ok. */
  health?(): Promise<BackendHealth>;
}
