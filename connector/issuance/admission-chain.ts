import { type CaBackend, type IssuedCertificate, isPendingIssue } from '../ca/ca-backend.js';
import type { Inventory, InventoryRecord } from '../ports.js';
import {
  type Admission,
  type AuthorityEvents,
  type CheckedAdmission,
  type EnrichedAdmission,
  inventoryRecord,
  issueRequest,
} from './admission.js';
import { checkCsr } from './csr-policy.js';
import type { IssuanceEnrichment } from './enrichment/ports.js';

export interface AdmissionChainOptions {
  backend: CaBackend;
  inventory: Inventory;
  events?: AuthorityEvents;
  /** The directory step for profiles bound to a directory (connector/issuance/enrichment). */
  enrichment?: IssuanceEnrichment;
}

/**
 * The checks an authorized request passes, one Admission handed from step to step:
 *   1. challenge: authority.ts builds the Admission from what authorized the request (a SCEP
 *      challenge, the certificate a RenewalReq replaces, a link job or an admin);
 *   2. CSR policy: the profile's rules and the challenge's expectations (csr-policy.ts);
 *   3. enrichment: the directory refuses a missing or disabled account and renders subject, SANs
 *      and SID extension (enrichment/);
 *   4. CA: the backend issues, or holds the request (an upstream SCEP CA answering PENDING);
 *   5. inventory: the certificate is recorded, spending the request's challenge in the same write.
 * A request may stop on the way: parked for an admin after step 3 (manual approval), or held by
 * the CA at step 4; parked-requests.ts takes it from there.
 */
export class AdmissionChain {
  constructor(private readonly options: AdmissionChainOptions) {}

  /** 2. CSR policy. */
  checkCsr<A extends Admission>(a: A): A & CheckedAdmission {
    return { ...a, usages: checkCsr(a.csr, a.profile, a.expectations) };
  }

  /** 3. Enrichment (a no-op for profiles without a directory). */
  async enrich(a: CheckedAdmission): Promise<EnrichedAdmission> {
    const enriched = await this.options.enrichment?.enrich(a.profile.name, { csr: a.csr, ...a.context });
    return enriched ? { ...a, enriched } : a;
  }

  /** 3 to 5: the certificate, or undefined when the CA holds the request. */
  async issue(a: CheckedAdmission): Promise<InventoryRecord | undefined> {
    const dropped = a.usages.droppedKeyUsage;
    if (dropped) this.options.events?.keyUsageDropped?.(a.profile.name, dropped, a.requester);
    const enriched = await this.enrich(a);
    const issued = await this.options.backend.issue(issueRequest(enriched));
    if (isPendingIssue(issued)) return undefined;
    return this.record(enriched, issued);
  }

  /** 5. Inventory, then the `issued` event. */
  async record(
    a: Admission & Partial<Pick<EnrichedAdmission, 'enriched'>>,
    issued: IssuedCertificate,
  ): Promise<InventoryRecord> {
    const record = inventoryRecord(a, issued);
    await this.options.inventory.record(record, a.spending);
    this.options.events?.issued?.(record, a.via);
    return record;
  }
}
