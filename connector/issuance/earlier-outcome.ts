import type { ParsedCsr } from '../../certs/csr.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Inventory, InventoryRecord } from '../ports.js';
import { type EnrollOutcome, type EnrollRequest, requestHash, sha256Hex } from './admission.js';
import { Parked, type ParkedRequests } from './parked-requests.js';

export interface EarlierOutcomeDeps {
  inventory: Pick<Inventory, 'transactionHistory'>;
  parked: Pick<ParkedRequests, 'answer'>;
  clock: () => Date;
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
export async function earlierOutcome(
  deps: EarlierOutcomeDeps,
  req: EnrollRequest,
  renewing?: Buffer,
): Promise<EnrollOutcome | undefined> {
  // One read for both (a round trip on a site's PostgreSQL, every enrollment pays it).
  const history = await deps.inventory.transactionHistory(req.transactionId);
  const record = history.issued;
  if (record && isCurrent(record, deps.clock()) && !(renewing && record.thumbprint === sha256Hex(renewing))) {
    if (!sameKey(record.der, req.csr)) return transactionClash();
    if (sameRequest(record, req.csr)) return { status: 'issued', record };
  }
  const parked = history.parked && new Parked(history.parked);
  if (!parked || parked.row.status === 'issued') return undefined;
  if (!parked.csr.spkiDer.equals(req.csr.spkiDer)) return transactionClash();
  if (parked.requestHash !== requestHash(req.csr.der)) {
    if (parked.row.status === 'rejected') return undefined; // a new request takes the id over
    throw new OutpostError(
      ErrorCodes.badRequest,
      'another request under this transaction id is still waiting: poll it, or use a new key',
    );
  }
  return deps.parked.answer(parked);
}

/** Whether `csr` is the request `record` was issued for (records from before: same subject). */
function sameRequest(record: InventoryRecord, csr: ParsedCsr): boolean {
  if (record.requestHash !== undefined) return record.requestHash === requestHash(csr.der);
  return record.subject === csr.subject.text;
}

function isCurrent(record: InventoryRecord, now: Date): boolean {
  return record.status === 'valid' && record.notAfter.getTime() > now.getTime();
}

function transactionClash(): never {
  throw new OutpostError(ErrorCodes.badRequest, 'transaction id already used with another key');
}

function sameKey(certDer: Buffer, csr: ParsedCsr): boolean {
  // The SPKI DER appears verbatim inside the certificate we issued from it.
  return certDer.includes(csr.spkiDer);
}
