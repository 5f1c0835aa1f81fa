import { type ParsedCsr, parseCsr } from '../../certs/csr.js';
import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import { type CaBackend, type IssueResult, isPendingIssue } from '../ca/ca-backend.js';
import type { Inventory, InventoryRecord, PendingRequest, PendingStore } from '../ports.js';
import {
  type Admission,
  type CheckedAdmission,
  type EnrollOutcome,
  issueRequest,
  requestHash,
} from './admission.js';
import type { AdmissionChain } from './admission-chain.js';
import type { ProfilePolicy } from './profile-policy.js';

/** A parked request as the store keeps it; its CSR is parsed once, when first needed. */
export class Parked {
  private parsedCsr?: ParsedCsr;
  private hash?: string;

  constructor(readonly row: PendingRequest) {}

  get csr(): ParsedCsr {
    this.parsedCsr ??= parseCsr(this.row.csrDer);
    return this.parsedCsr;
  }

  /** See admission.ts requestHash: tells a retry of this request from another request. */
  get requestHash(): string {
    this.hash ??= requestHash(this.row.csrDer);
    return this.hash;
  }
}

export interface ParkedRequestsOptions {
  pending: PendingStore;
  inventory: Inventory;
  backend: CaBackend;
  chain: AdmissionChain;
  /** The profile by name; throws badRequest for an unknown one. */
  profile(name: string): ProfilePolicy;
  clock: () => Date;
}

/**
 * Requests that stopped on their way through the admission chain, under their SCEP transaction
 * id: `pending` until an admin approves (`outpost certs approve`) or rejects them, `approved`
 * while the CA holds them (an upstream SCEP CA answered PENDING; asked again on each poll and by
 * the maintenance timer), then `issued` or `rejected`.
 */
export class ParkedRequests {
  constructor(private readonly options: ParkedRequestsOptions) {}

  /** Parks a checked request: `pending` for an admin, `approved` when the CA holds it. */
  async park(
    a: CheckedAdmission & { transactionId: string },
    status: 'pending' | 'approved',
  ): Promise<EnrollOutcome> {
    const { pending, clock } = this.options;
    await pending.add(
      {
        transactionId: a.transactionId,
        csrDer: a.csr.der,
        profile: a.profile.name,
        requester: a.requester,
        subject: a.csr.subject.text,
        createdAt: clock(),
      },
      a.spending,
    );
    // `approved` tells poll() to ask the CA rather than wait for `outpost certs approve`.
    if (status === 'approved') await pending.setStatus(a.transactionId, 'approved');
    return { status: 'pending', transactionId: a.transactionId };
  }

  async find(transactionId: string): Promise<Parked | undefined> {
    const row = await this.options.pending.get(transactionId);
    return row && new Parked(row);
  }

  /**
   * CertPoll / GetCertInitial: the state of an earlier request. A request the CA itself holds
   * (status `approved`: an upstream SCEP CA answered PENDING) is asked about again.
   */
  async poll(transactionId: string): Promise<EnrollOutcome> {
    const record = await this.options.inventory.byTransactionId(transactionId);
    if (record) return { status: 'issued', record };
    const parked = await this.find(transactionId);
    if (!parked) throw new OutpostError(ErrorCodes.notFound, 'unknown transaction');
    return this.answer(parked);
  }

  /** What a parked request answers now: refused once rejected, the CA asked while it holds it. */
  async answer(parked: Parked): Promise<EnrollOutcome> {
    const { status, transactionId } = parked.row;
    if (status === 'rejected') throw new OutpostError(ErrorCodes.badRequest, 'the request was rejected');
    if (status === 'approved') return this.askCa(parked);
    return { status: 'pending', transactionId };
  }

  /**
   * Asks the CA about every request it holds (the maintenance timer calls this, so a device that
   * polls late still finds its certificate, and the backend's poll schedule runs even when no
   * device asks). Errors are handed to `onError` and do not stop the others.
   */
  async pollAwaitingCa(onError?: (transactionId: string, error: unknown) => void): Promise<void> {
    for (const row of await this.options.pending.list('approved')) {
      try {
        await this.askCa(new Parked(row));
      } catch (e) {
        onError?.(row.transactionId, e);
      }
    }
  }

  /** Issues a parked request now (`outpost certs approve`). */
  async approve(transactionId: string): Promise<InventoryRecord> {
    const parked = await this.waiting(transactionId);
    // The pending store keeps only the CSR, so challenge claims are gone here; the config refuses
    // manual approval for profiles that look users up from the challenge.
    const record = await this.options.chain.issue(
      this.options.chain.checkCsr(this.admission(parked, 'approval')),
    );
    if (!record) {
      await this.options.pending.setStatus(transactionId, 'approved');
      throw new OutpostError(
        ErrorCodes.unavailable,
        'approved, but the CA has not issued the certificate yet: the device gets it on a later poll',
      );
    }
    await this.options.pending.setStatus(transactionId, 'issued', record.serialHex);
    return record;
  }

  async reject(transactionId: string): Promise<void> {
    await this.waiting(transactionId);
    await this.options.pending.setStatus(transactionId, 'rejected');
  }

  private async waiting(transactionId: string): Promise<Parked> {
    const parked = await this.find(transactionId);
    if (!parked) throw new OutpostError(ErrorCodes.notFound, 'unknown pending request');
    if (parked.row.status !== 'pending') {
      throw new OutpostError(ErrorCodes.conflict, `the request is already ${parked.row.status}`);
    }
    return parked;
  }

  /** A parked request back on the admission chain: no challenge, its claims are not kept. */
  private admission(parked: Parked, via: string): Admission & { transactionId: string } {
    const csr = parked.csr;
    const { row } = parked;
    return {
      csr,
      requester: row.requester,
      transactionId: row.transactionId,
      via,
      profile: this.options.profile(row.profile),
      expectations: {},
      context: { claims: {} },
    };
  }

  /**
   * One question to the CA about a request it holds. Still pending, or the CA unreachable: the
   * device keeps polling. Refused (or given up on, see the backend's poll schedule): rejected.
   */
  private async askCa(parked: Parked): Promise<EnrollOutcome> {
    const { backend, pending, inventory, chain } = this.options;
    const { transactionId, createdAt } = parked.row;
    const stillPending = { status: 'pending', transactionId } as const;
    if (!backend.poll) return stillPending;
    const checked = chain.checkCsr(this.admission(parked, 'ca'));
    let result: IssueResult;
    try {
      result = await backend.poll(issueRequest(checked), createdAt);
    } catch (e) {
      if (isOutpostError(e) && e.code === ErrorCodes.unavailable) return stillPending;
      if (isOutpostError(e) && e.code === ErrorCodes.badRequest)
        await pending.setStatus(transactionId, 'rejected');
      throw e;
    }
    if (isPendingIssue(result)) return stillPending;
    // Another process (a CLI poll, a cluster worker) may have recorded the same answer meanwhile.
    const record = (await inventory.byTransactionId(transactionId)) ?? (await chain.record(checked, result));
    await pending.setStatus(transactionId, 'issued', record.serialHex);
    return { status: 'issued', record };
  }
}
