import { parseCertificate } from '../../certs/certificate.js';
import type { ParsedCsr } from '../../certs/csr.js';
import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import type { CaBackend } from '../ca/ca-backend.js';
import type { Inventory, InventoryRecord, PendingStore } from '../ports.js';
import type {
  Admission,
  AuthorityEvents,
  EnrichmentContext,
  EnrollOutcome,
  EnrollRequest,
  RenewalRequest,
} from './admission.js';
import { AdmissionChain } from './admission-chain.js';
import type { ChallengeVerifier } from './challenge/challenge-verifier.js';
import type { ChallengeGrant } from './challenge/expectations.js';
import { earlierOutcome } from './earlier-outcome.js';
import type { IssuanceEnrichment } from './enrichment/ports.js';
import { ParkedRequests } from './parked-requests.js';
import type { ProfilePolicy } from './profile-policy.js';
import { certificateToRenew } from './renewal-check.js';

/**
 * A request the caller has already authorized (a cloud job over the mutually authenticated link,
 * an admin at the CLI), so there is no challenge: the profile's CSR rules still apply.
 */
export interface DirectIssueRequest {
  csr: ParsedCsr;
  profile: string;
  /** Who asked, for the inventory: e.g. "job:<jobId>" (Inventory.byRequester finds it again). */
  requester: string;
  /** The user and device the job is for: the directory lookup key of an enriched profile. */
  claims?: { userId?: string; deviceId?: string };
}

export interface AuthorityOptions {
  backend: CaBackend;
  inventory: Inventory;
  pending: PendingStore;
  challenges: ChallengeVerifier;
  profiles: ReadonlyMap<string, ProfilePolicy>;
  defaultProfile: string;
  clock: () => Date;
  events?: AuthorityEvents;
  /** The directory step for profiles bound to a directory (connector/issuance/enrichment). */
  enrichment?: IssuanceEnrichment;
}

/** The challenge's claims about who the certificate is for (JWS userId / deviceId). */
function claimsOf(grant: ChallengeGrant): EnrichmentContext['claims'] {
  const { userId, deviceId } = grant.expectations;
  return { ...(userId !== undefined ? { userId } : {}), ...(deviceId !== undefined ? { deviceId } : {}) };
}

/**
 * The issuance authority: protocol adapters (SCEP, link jobs, CLI) all come here, like
 * smallstep's authority sits between its provisioners and its CA. Admission by lifecycle:
 *   1. enroll / renew / issueDirect authorize a request (challenge, the certificate a renewal
 *      replaces, the caller) and make it an Admission (admission.ts);
 *   2. the admission chain checks and issues it: CSR policy, enrichment, CA, inventory
 *      (admission-chain.ts);
 *   3. a request parked for an admin or held by the CA waits in parked-requests.ts (poll,
 *      approve, reject); a retried transaction gets its earlier answer (earlier-outcome.ts).
 * Revocation is connector/revocation/.
 */
export class Authority {
  private readonly chain: AdmissionChain;
  private readonly parked: ParkedRequests;

  constructor(private readonly options: AuthorityOptions) {
    const { backend, inventory, pending, clock, events, enrichment } = options;
    this.chain = new AdmissionChain({
      backend,
      inventory,
      ...(events ? { events } : {}),
      ...(enrichment ? { enrichment } : {}),
    });
    this.parked = new ParkedRequests({
      pending,
      inventory,
      backend,
      chain: this.chain,
      profile: (name) => this.profileByName(name),
      clock,
    });
  }

  /** PKCSReq: an initial enrollment authorized by a challenge. Idempotent per transaction id. */
  enroll(req: EnrollRequest): Promise<EnrollOutcome> {
    return this.reportingRefusal(req.transactionId, () => this.enrollOnce(req));
  }

  /** RenewalReq: authorized by a still-valid certificate this connector issued. */
  renew(req: RenewalRequest): Promise<EnrollOutcome> {
    return this.reportingRefusal(req.transactionId, () => this.renewOnce(req));
  }

  /**
   * Issues without a SCEP challenge (see DirectIssueRequest). Manual approval does not apply: the
   * job or the admin command is the approval. Not idempotent by itself; callers that may re-run
   * look for their earlier certificate with Inventory.byRequester first.
   */
  async issueDirect(req: DirectIssueRequest): Promise<InventoryRecord> {
    const admission: Admission = {
      csr: req.csr,
      requester: req.requester,
      via: req.requester,
      profile: this.profileByName(req.profile),
      expectations: {},
      context: { claims: req.claims ?? {} },
    };
    const record = await this.chain.issue(this.chain.checkCsr(admission));
    // No transaction to poll: the caller (a link job) retries, and the CA answers the same request again.
    if (!record) throw new OutpostError(ErrorCodes.unavailable, 'the CA has not issued the certificate yet');
    return record;
  }

  /** CertPoll / GetCertInitial (see ParkedRequests.poll). */
  poll(transactionId: string): Promise<EnrollOutcome> {
    return this.parked.poll(transactionId);
  }

  /** The maintenance timer's question to the CA about every request it holds (see ParkedRequests). */
  pollAwaitingCa(onError?: (transactionId: string, error: unknown) => void): Promise<void> {
    return this.parked.pollAwaitingCa(onError);
  }

  /** Issues a parked request now (`outpost certs approve`). */
  approve(transactionId: string): Promise<InventoryRecord> {
    return this.parked.approve(transactionId);
  }

  reject(transactionId: string): Promise<void> {
    return this.parked.reject(transactionId);
  }

  /** GetCert: a certificate by serial. */
  async certificate(serialHex: string): Promise<InventoryRecord> {
    const record = await this.options.inventory.bySerial(serialHex.toLowerCase());
    if (!record) throw new OutpostError(ErrorCodes.notFound, 'unknown certificate');
    return record;
  }

  /** A refusal (challenge, policy, directory, CA) goes to the events hook before the client hears it. */
  private async reportingRefusal(
    transactionId: string,
    work: () => Promise<EnrollOutcome>,
  ): Promise<EnrollOutcome> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof OutpostError) this.options.events?.refused?.(e, transactionId);
      throw e;
    }
  }

  /**
   * The challenge is held for this transaction while policy, directory and CA run, and spent in
   * the store transaction that records the certificate or the PENDING row (issue 11 #3): a
   * refusal gives it back, a crash leaves a hold that this transaction id can take back at once
   * (and anyone after CHALLENGE_HOLD_MS), and of concurrent requests only the holder reaches the CA.
   */
  private async enrollOnce(req: EnrollRequest): Promise<EnrollOutcome> {
    const earlier = await this.earlierOutcome(req);
    if (earlier) return earlier;
    const { challenges } = this.options;
    const grant = await challenges.verify(req.csr.challengePassword, req.transactionId);
    try {
      return await this.admit({
        csr: req.csr,
        requester: req.requester,
        transactionId: req.transactionId,
        via: `challenge:${grant.reference}`,
        profile: this.profileByName(grant.profile ?? this.options.defaultProfile),
        expectations: grant.expectations,
        context: { claims: claimsOf(grant) },
        ...(grant.use ? { spending: grant.use } : {}),
      });
    } catch (e) {
      if (!grant.use) throw e;
      await challenges.release(grant.use);
      // A copy of this same transaction (a client's retry) may have spent the challenge on it meanwhile.
      const spentOnThis = isOutpostError(e) && e.code === ErrorCodes.badChallenge;
      const answered = spentOnThis ? await this.earlierOutcome(req) : undefined;
      if (answered) return answered;
      throw e;
    }
  }

  private async renewOnce(req: RenewalRequest): Promise<EnrollOutcome> {
    const earlier = await this.earlierOutcome(req, req.signerCertDer);
    if (earlier) return earlier;
    const previous = await certificateToRenew(this.options.inventory, this.options.clock, req.signerCertDer);
    // An enriched profile's subject comes from the directory, not from the CSR: the renewal finds
    // the account again (by the SID the certificate carries), refuses it if disabled, and keeps
    // the renewed certificate's subject and SANs.
    const enriched = this.options.enrichment?.enriches(previous.profile) ?? false;
    if (!enriched && previous.subject !== req.csr.subject.text) {
      throw new OutpostError(
        ErrorCodes.badRequest,
        'a renewal must keep the subject of the certificate it renews',
      );
    }
    return this.admit({
      csr: req.csr,
      requester: req.requester,
      transactionId: req.transactionId,
      via: `renewal:${previous.serialHex}`,
      profile: this.profileByName(previous.profile),
      expectations: {},
      context: { claims: {}, renewing: parseCertificate(req.signerCertDer) },
    });
  }

  private earlierOutcome(req: EnrollRequest, renewing?: Buffer): Promise<EnrollOutcome | undefined> {
    const { inventory, clock } = this.options;
    return earlierOutcome({ inventory, parked: this.parked, clock }, req, renewing);
  }

  /** Steps 2 to 5 of a SCEP request; it stops parked for an admin, or held by the CA. */
  private async admit(admission: Admission & { transactionId: string }): Promise<EnrollOutcome> {
    const checked = this.chain.checkCsr(admission);
    if (checked.profile.approval === 'manual') {
      // A missing or disabled account is refused now rather than parked for an admin to approve.
      await this.chain.enrich(checked);
      return this.parked.park(checked, 'pending');
    }
    const record = await this.chain.issue(checked);
    if (record) return { status: 'issued', record };
    // The CA holds the request (an upstream SCEP CA answered PENDING).
    return this.parked.park(checked, 'approved');
  }

  private profileByName(name: string): ProfilePolicy {
    const profile = this.options.profiles.get(name);
    if (!profile) throw new OutpostError(ErrorCodes.badRequest, `unknown certificate profile ${name}`);
    return profile;
  }
}
