import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type EnrichmentPlan, renderEnrichment, renewEnrichment } from './enrichment-plan.js';
import type { EnrichedIssue, EnrichmentRequest, IdentityDirectory, IssuanceEnrichment } from './ports.js';
import { deviceIdValue, lookupValue } from './request-values.js';
import { certificateSid } from './sid-mapping.js';

/**
 * The directory step of the issuance policy chain: for a profile bound to a directory, find the
 * account (refusing missing and disabled ones), then render the profile's subject, SANs and SID
 * mapping from it. Profiles without a plan pass through untouched.
 */
export class DirectoryEnrichment implements IssuanceEnrichment {
  constructor(
    private readonly plans: ReadonlyMap<string, EnrichmentPlan>,
    private readonly directories: ReadonlyMap<string, IdentityDirectory>,
  ) {
    for (const [profile, plan] of plans) {
      if (!directories.has(plan.directory)) {
        throw new OutpostError(ErrorCodes.config, `profile ${profile} names an unknown directory`, {
          detail: plan.directory,
        });
      }
    }
  }

  enriches(profile: string): boolean {
    return this.plans.has(profile);
  }

  async enrich(profile: string, request: EnrichmentRequest): Promise<EnrichedIssue | undefined> {
    const plan = this.plans.get(profile);
    if (!plan) return undefined;
    const directory = this.directories.get(plan.directory)!;
    // A renewal finds the account by the SID its certificate already maps to: the same account
    // even after a rename, and one that is refused once disabled. It keeps the certificate's
    // subject and SANs (enrichment-plan.ts renewEnrichment).
    const sid = request.renewing ? certificateSid(request.renewing) : undefined;
    const account = sid
      ? await directory.findIdentity('objectSid', sid)
      : await directory.findIdentity(plan.lookupBy, lookupValue(plan.lookupFrom, request));
    if (request.renewing) return renewEnrichment(plan, account, request.renewing);
    return renderEnrichment(plan, account, {
      csrSans: request.csr.sans,
      deviceId: deviceIdValue(plan.deviceIdFrom, request),
    });
  }
}
