import { createHash } from 'node:crypto';
import { parseCertificate } from '../../certs/certificate.js';
import type { ParsedCsr, SubjectAltNames } from '../../certs/csr.js';
import { csrRequestInfoDer, parseCsr } from '../../certs/csr.js';
import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import {
  type CaBackend,
  type IssuedCertificate,
  type IssueRequest,
  type IssueResult,
  isPendingIssue,
} from '../ca/ca-backend.js';
import type { ChallengeUse, Inventory, InventoryRecord, PendingRequest, PendingStore } from '../ports.js';
import type { ChallengeVerifier } from './challenge/challenge-verifier.js';
import type { ChallengeGrant } from './challenge/expectations.js';
import { checkCsr, type UsagesToIssue } from './csr-policy.js';
import type { EnrichedIssue, EnrichmentRequest, IssuanceEnrichment } from './enrichment/ports.js';
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

export interface AuthorityEvents {
  issued?(record: InventoryRecord, via: string): void;
  refused?(error: OutpostError, transactionId: string): void;
  /**
   * The profile (or challenge) lists key usages the request's key cannot have (keyEncipherment or
   * dataEncipherment for an EC key, RFC 5480 §3): the certificate is issued without them.
   */
  keyUsageDropped?(profile: string, dropped: string[], requester: string): void;
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

/** What enrichment knows about a request besides its CSR. */
type EnrichmentContext = Omit<EnrichmentRequest, 'csr'>;

function flattenSans(sans: SubjectAltNames): string[] {
  return (['dns', 'email', 'uri', 'ip', 'upn'] as const).flatMap((kind) =>
    sans[kind].map((v) => `${kind}:${v}`),
  );
}

/** The challenge's claims about who the certificate is for (JWS userId / deviceId). */
function claimsOf(grant: ChallengeGrant): EnrichmentContext['claims'] {
  const { userId, deviceId } = grant.expectations;
  return { ...(userId !== undefined ? { userId } : {}), ...(deviceId !== undefined ? { deviceId } : {}) };
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What tells a retried request from a new one: the CSR minus its (possibly randomized) signature. */
function requestHash(csrDer: Uint8Array): string {
  return sha256Hex(csrRequestInfoDer(csrDer));
}

/**
 * The issuance authority: challenge, CSR rules, optional manual approval, then the CA backend,
 * then the inventory. Protocol adapters (SCEP, link jobs, CLI) all go through here, like
 * smallstep's authority sits between its provisioners and its CA.
 */
export class Authority {
  constructor(private readonly options: AuthorityOptions) {}

  /** PKCSReq: an initial enrollment authorized by a challenge. Idempotent per transaction id. */
  enroll(req: EnrollRequest): Promise<EnrollOutcome> {
    return this.reportingRefusal(req.transactionId, () => this.enrollOnce(req));
  }

  /** RenewalReq: authorized by a still-valid certificate this connector issued. */
  renew(req: RenewalRequest): Promise<EnrollOutcome> {
    return this.reportingRefusal(req.transactionId, () => this.renewOnce(req));
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
      return await this.admit(req, this.profileFor(grant), grant, `challenge:${grant.reference}`);
    } catch (e) {
      if (!grant.use) throw e;
      challenges.release(grant.use);
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
    const previous = this.currentCertificate(req.signerCertDer);
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
    const profile = this.profileByName(previous.profile);
    const grant: ChallengeGrant = {
      kind: 'static',
      expectations: {},
      reference: `renewal:${previous.serialHex}`,
    };
    return this.admit(req, profile, grant, `renewal:${previous.serialHex}`, {
      claims: {},
      renewing: parseCertificate(req.signerCertDer),
    });
  }

  /**
   * Issues without a SCEP challenge (see DirectIssueRequest). Manual approval does not apply: the
   * job or the admin command is the approval. Not idempotent by itself; callers that may re-run
   * look for their earlier certificate with Inventory.byRequester first.
   */
  async issueDirect(req: DirectIssueRequest): Promise<InventoryRecord> {
    const profile = this.profileByName(req.profile);
    const usages = checkCsr(req.csr, profile, {});
    const record = await this.issue(req.csr, profile, usages, req.requester, undefined, req.requester, {
      claims: req.claims ?? {},
    });
    // No transaction to poll: the caller (a link job) retries, and the CA answers the same request again.
    if (!record) throw new OutpostError(ErrorCodes.unavailable, 'the CA has not issued the certificate yet');
    return record;
  }

  /**
   * CertPoll / GetCertInitial: the state of an earlier request. A request the CA itself holds
   * (status `approved`: an upstream SCEP CA answered PENDING) is asked about again.
   */
  async poll(transactionId: string): Promise<EnrollOutcome> {
    const record = this.options.inventory.byTransactionId(transactionId);
    if (record) return { status: 'issued', record };
    const parked = this.options.pending.get(transactionId);
    if (!parked) throw new OutpostError(ErrorCodes.notFound, 'unknown transaction');
    if (parked.status === 'rejected')
      throw new OutpostError(ErrorCodes.badRequest, 'the request was rejected');
    if (parked.status === 'approved') return this.askCa(parked);
    return { status: 'pending', transactionId };
  }

  /**
   * Asks the CA about every request it holds (the maintenance timer calls this, so a device that
   * polls late still finds its certificate, and the backend's poll schedule runs even when no
   * device asks). Errors are handed to `onError` and do not stop the others.
   */
  async pollAwaitingCa(onError?: (transactionId: string, error: unknown) => void): Promise<void> {
    for (const parked of this.options.pending.list('approved')) {
      try {
        await this.askCa(parked);
      } catch (e) {
        onError?.(parked.transactionId, e);
      }
    }
  }

  /** GetCert: a certificate by serial. */
  certificate(serialHex: string): InventoryRecord {
    const record = this.options.inventory.bySerial(serialHex.toLowerCase());
    if (!record) throw new OutpostError(ErrorCodes.notFound, 'unknown certificate');
    return record;
  }

  /** Issues a parked request now (`outpost certs approve`). */
  async approve(transactionId: string): Promise<InventoryRecord> {
    const parked = this.parked(transactionId);
    const csr = parseCsr(parked.csrDer);
    const profile = this.profileByName(parked.profile);
    const usages = checkCsr(csr, profile, {});
    // The pending store keeps only the CSR, so challenge claims are gone here; the config refuses
    // manual approval for profiles that look users up from the challenge.
    const record = await this.issue(csr, profile, usages, parked.requester, transactionId, 'approval', {
      claims: {},
    });
    if (!record) {
      this.options.pending.setStatus(transactionId, 'approved');
      throw new OutpostError(
        ErrorCodes.unavailable,
        'approved, but the CA has not issued the certificate yet: the device gets it on a later poll',
      );
    }
    this.options.pending.setStatus(transactionId, 'issued', record.serialHex);
    return record;
  }

  reject(transactionId: string): void {
    this.parked(transactionId);
    this.options.pending.setStatus(transactionId, 'rejected');
  }

  private parked(transactionId: string): PendingRequest {
    const parked = this.options.pending.get(transactionId);
    if (!parked) throw new OutpostError(ErrorCodes.notFound, 'unknown pending request');
    if (parked.status !== 'pending') {
      throw new OutpostError(ErrorCodes.conflict, `the request is already ${parked.status}`);
    }
    return parked;
  }

  /**
   * A client that retries a transaction (lost reply, polling) gets the same answer, provided it
   * proves the same key and asks the same thing: RFC 8894 §3.2.1.1 identifies a request by
   * transactionID, which micromdm scepclient and strongSwan derive from the public key alone, so
   * re-enrolling that key with a new challenge and subject arrives under a known id. A retry is
   * the same id AND the same request (CertificationRequestInfo); another request under a known id
   * is a new request (issue 11 #4), or a clear FAILURE while the earlier one is still parked. The
   * key check keeps a guessed id from fetching someone else's result. A revoked or expired earlier
   * certificate is never handed out again, and `renewing` names the certificate a RenewalReq
   * replaces: that one is not an earlier answer.
   */
  private async earlierOutcome(req: EnrollRequest, renewing?: Buffer): Promise<EnrollOutcome | undefined> {
    const record = this.options.inventory.byTransactionId(req.transactionId);
    if (record && this.isCurrent(record) && !(renewing && record.thumbprint === sha256Hex(renewing))) {
      if (!this.sameKey(record.der, req.csr)) return this.transactionClash();
      if (this.sameRequest(record, req.csr)) return { status: 'issued', record };
    }
    const parked = this.options.pending.get(req.transactionId);
    if (!parked || parked.status === 'issued') return undefined;
    if (!parseCsr(parked.csrDer).spkiDer.equals(req.csr.spkiDer)) return this.transactionClash();
    if (requestHash(parked.csrDer) !== requestHash(req.csr.der)) {
      if (parked.status === 'rejected') return undefined; // a new request takes the id over
      throw new OutpostError(
        ErrorCodes.badRequest,
        'another request under this transaction id is still waiting: poll it, or use a new key',
      );
    }
    if (parked.status === 'rejected')
      throw new OutpostError(ErrorCodes.badRequest, 'the request was rejected');
    if (parked.status === 'approved') return this.askCa(parked);
    return { status: 'pending', transactionId: req.transactionId };
  }

  /** Whether `csr` is the request `record` was issued for (records from before: same subject). */
  private sameRequest(record: InventoryRecord, csr: ParsedCsr): boolean {
    if (record.requestHash !== undefined) return record.requestHash === requestHash(csr.der);
    return record.subject === csr.subject.text;
  }

  /**
   * One question to the CA about a request it holds. Still pending, or the CA unreachable: the
   * device keeps polling. Refused (or given up on, see the backend's poll schedule): rejected.
   */
  private async askCa(parked: PendingRequest): Promise<EnrollOutcome> {
    const { backend, pending } = this.options;
    const stillPending = { status: 'pending', transactionId: parked.transactionId } as const;
    if (!backend.poll) return stillPending;
    const csr = parseCsr(parked.csrDer);
    const profile = this.profileByName(parked.profile);
    const usages = checkCsr(csr, profile, {});
    let result: IssueResult;
    try {
      result = await backend.poll(
        this.issueRequest(csr, profile, usages, parked.requester),
        parked.createdAt,
      );
    } catch (e) {
      if (isOutpostError(e) && e.code === ErrorCodes.unavailable) return stillPending;
      if (isOutpostError(e) && e.code === ErrorCodes.badRequest)
        pending.setStatus(parked.transactionId, 'rejected');
      throw e;
    }
    if (isPendingIssue(result)) return stillPending;
    // Another process (a CLI poll, a cluster worker) may have recorded the same answer meanwhile.
    const record =
      this.options.inventory.byTransactionId(parked.transactionId) ??
      this.recordIssued(csr, profile, parked.requester, parked.transactionId, result, 'ca');
    pending.setStatus(parked.transactionId, 'issued', record.serialHex);
    return { status: 'issued', record };
  }

  private isCurrent(record: InventoryRecord): boolean {
    return record.status === 'valid' && record.notAfter.getTime() > this.options.clock().getTime();
  }

  private transactionClash(): never {
    throw new OutpostError(ErrorCodes.badRequest, 'transaction id already used with another key');
  }

  private sameKey(certDer: Buffer, csr: ParsedCsr): boolean {
    // The SPKI DER appears verbatim inside the certificate we issued from it.
    return certDer.includes(csr.spkiDer);
  }

  private currentCertificate(signerCertDer: Buffer): InventoryRecord {
    const record = this.issuedByUs(signerCertDer);
    const now = this.options.clock();
    if (record?.status !== 'valid') {
      throw new OutpostError(
        ErrorCodes.badRequest,
        'renewal must be signed by a valid certificate from this CA',
      );
    }
    if (record.notAfter.getTime() < now.getTime()) {
      throw new OutpostError(ErrorCodes.badRequest, 'the certificate to renew has expired');
    }
    return record;
  }

  /** The inventory record of exactly this certificate (same serial and same bytes), if we issued it. */
  private issuedByUs(signerCertDer: Buffer): InventoryRecord | undefined {
    let serialHex: string;
    try {
      serialHex = parseCertificate(signerCertDer).serialHex;
    } catch {
      return undefined;
    }
    const record = this.options.inventory.bySerial(serialHex);
    return record && record.thumbprint === sha256Hex(signerCertDer) ? record : undefined;
  }

  private profileFor(grant: ChallengeGrant): ProfilePolicy {
    return this.profileByName(grant.profile ?? this.options.defaultProfile);
  }

  private profileByName(name: string): ProfilePolicy {
    const profile = this.options.profiles.get(name);
    if (!profile) throw new OutpostError(ErrorCodes.badRequest, `unknown certificate profile ${name}`);
    return profile;
  }

  private async admit(
    req: EnrollRequest,
    profile: ProfilePolicy,
    grant: ChallengeGrant,
    via: string,
    context: EnrichmentContext = { claims: claimsOf(grant) },
  ): Promise<EnrollOutcome> {
    const usages = checkCsr(req.csr, profile, grant.expectations);
    const parked = {
      transactionId: req.transactionId,
      csrDer: req.csr.der,
      profile: profile.name,
      requester: req.requester,
      subject: req.csr.subject.text,
    };
    if (profile.approval === 'manual') {
      // A missing or disabled account is refused now rather than parked for an admin to approve.
      await this.options.enrichment?.enrich(profile.name, { csr: req.csr, ...context });
      this.options.pending.add({ ...parked, createdAt: this.options.clock() }, grant.use);
      return { status: 'pending', transactionId: req.transactionId };
    }
    const record = await this.issue(
      req.csr,
      profile,
      usages,
      req.requester,
      req.transactionId,
      via,
      context,
      grant.use,
    );
    if (record) return { status: 'issued', record };
    // The CA holds the request (an upstream SCEP CA answered PENDING): park it as `approved`, which
    // tells poll() to ask the CA rather than wait for `outpost certs approve`.
    this.options.pending.add({ ...parked, createdAt: this.options.clock() }, grant.use);
    this.options.pending.setStatus(req.transactionId, 'approved');
    return { status: 'pending', transactionId: req.transactionId };
  }

  private async issue(
    csr: ParsedCsr,
    profile: ProfilePolicy,
    usages: UsagesToIssue,
    requester: string,
    transactionId: string | undefined,
    via: string,
    context: EnrichmentContext,
    spending?: ChallengeUse,
  ): Promise<InventoryRecord | undefined> {
    // Policy chain, last step: the directory (missing/disabled accounts refused, subject, SANs
    // and SID mapping rendered), then the CA.
    if (usages.droppedKeyUsage)
      this.options.events?.keyUsageDropped?.(profile.name, usages.droppedKeyUsage, requester);
    const enriched = await this.options.enrichment?.enrich(profile.name, { csr, ...context });
    const issued = await this.options.backend.issue(
      this.issueRequest(csr, profile, usages, requester, enriched),
    );
    if (isPendingIssue(issued)) return undefined;
    return this.recordIssued(csr, profile, requester, transactionId, issued, via, enriched, spending);
  }

  /** The same request for `issue` and for every later `poll` of it. */
  private issueRequest(
    csr: ParsedCsr,
    profile: ProfilePolicy,
    usages: UsagesToIssue,
    requester: string,
    enriched?: EnrichedIssue,
  ): IssueRequest {
    return {
      csr,
      profile: { ...profile, keyUsage: usages.keyUsage, eku: usages.eku },
      requester,
      ...(enriched
        ? {
            sans: enriched.sans,
            ...(enriched.subject ? { subject: enriched.subject.der } : {}),
            ...(enriched.extraExtensions.length > 0 ? { extraExtensions: enriched.extraExtensions } : {}),
          }
        : {}),
    };
  }

  private recordIssued(
    csr: ParsedCsr,
    profile: ProfilePolicy,
    requester: string,
    transactionId: string | undefined,
    issued: IssuedCertificate,
    via: string,
    enriched?: EnrichedIssue,
    spending?: ChallengeUse,
  ): InventoryRecord {
    const record: InventoryRecord = {
      serialHex: issued.serialHex,
      subject: (enriched?.subject ?? csr.subject).text,
      sans: flattenSans(enriched?.sans ?? csr.sans),
      profile: profile.name,
      requester,
      ...(transactionId !== undefined ? { transactionId } : {}),
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      status: 'valid',
      thumbprint: sha256Hex(issued.der),
      der: issued.der,
      requestHash: requestHash(csr.der),
    };
    this.options.inventory.record(record, spending);
    this.options.events?.issued?.(record, via);
    return record;
  }
}
