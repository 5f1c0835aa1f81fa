import {
  buildOcspResponse,
  type CertId,
  type CertStatus,
  type IssuerHashes,
  type IssuerIdentity,
  issuerHashes,
  type OcspErrorStatus,
  ocspErrorResponse,
  parseOcspRequest,
  responderKeyHash,
  type SingleResponseTemplate,
} from '../../certs/ocsp/index.js';
import type { HashName } from '../../certs/signer.js';
import { ErrorCodes, type OutpostError, toOutpostError } from '../../core/errors.js';
import type { Inventory } from '../ports.js';
import type { OcspSigningSource } from './ocsp-signing.js';

export type CertStatusKind = CertStatus['kind'];

/** What the HTTP adapter sends, logs and counts. */
export interface OcspAnswer {
  /** DER OCSPResponse, successful or a bare error status. */
  der: Buffer;
  status: 'successful' | OcspErrorStatus;
  /** One per CertID asked about, in order (empty for an error response). */
  certStatuses: CertStatusKind[];
  /** Why the answer is an error: a DecodeError for malformedRequest, the cause otherwise. */
  error?: OutpostError;
}

export interface OcspResponderOptions {
  /** The CA whose certificates we answer for: CertIDs naming another issuer are unknown. */
  issuer: IssuerIdentity;
  /** Read on every request (no cache): a revocation by any process shows in the next answer. */
  inventory: Pick<Inventory, 'bySerial'>;
  signing: OcspSigningSource;
  /** thisUpdate → nextUpdate: how long a client may cache the answer. */
  validityMs: number;
  clock?: () => Date;
  hash?: HashName;
}

const HASHES: readonly HashName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/**
 * RFC 6960 responder for the built-in CA, answering from the issued-certificate inventory. Every
 * answer is built fresh: one indexed SQLite read per CertID and one signature (measured in
 * ocsp-responder.test.ts), so there is no response cache that could serve a stale "good" after a
 * revocation.
 */
export class OcspResponder {
  private readonly hashes: ReadonlyMap<HashName, IssuerHashes>;
  private readonly clock: () => Date;
  private readonly hash: HashName;

  constructor(private readonly options: OcspResponderOptions) {
    this.hashes = new Map(HASHES.map((h) => [h, issuerHashes(options.issuer, h)]));
    this.clock = options.clock ?? (() => new Date());
    this.hash = options.hash ?? 'sha256';
  }

  /** Never throws: malformed input is malformedRequest, any other failure internalError or tryLater. */
  async respond(requestDer: Uint8Array): Promise<OcspAnswer> {
    let request: ReturnType<typeof parseOcspRequest>;
    try {
      request = parseOcspRequest(requestDer);
    } catch (e) {
      return failure('malformedRequest', e);
    }
    try {
      const now = wholeSecond(this.clock());
      const identity = await this.options.signing.current(now);
      const responses = await Promise.all(request.certIds.map((id) => this.single(id, now)));
      const der = buildOcspResponse(
        {
          responderKeyHash: responderKeyHash(identity.spkiDer),
          producedAt: now,
          responses,
          ...(request.nonce ? { nonce: request.nonce } : {}),
          certs: [identity.certDer],
        },
        identity.signer,
        this.hash,
      );
      return { der, status: 'successful', certStatuses: responses.map((r) => r.status.kind) };
    } catch (e) {
      const error = toOutpostError(e);
      return failure(error.code === ErrorCodes.unavailable ? 'tryLater' : 'internalError', error);
    }
  }

  private async single(id: CertId, now: Date): Promise<SingleResponseTemplate> {
    return {
      certIdDer: id.der,
      status: await this.statusOf(id, now),
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + this.options.validityMs),
    };
  }

  /**
   * RFC 6960 §2.2: "unknown" when the responder does not know the certificate: a CertID naming
   * another issuer (or a hash we do not compute), or a serial this CA never issued. We do not use
   * the §2.2 extended "revoked" answer for never-issued serials: the inventory is authoritative
   * only for what it holds.
   */
  private async statusOf(id: CertId, now: Date): Promise<CertStatus> {
    const ours = id.hash ? this.hashes.get(id.hash) : undefined;
    const sameIssuer = ours?.nameHash.equals(id.issuerNameHash) && ours.keyHash.equals(id.issuerKeyHash);
    if (!sameIssuer) return { kind: 'unknown' };
    const record = await this.options.inventory.bySerial(id.serialHex);
    if (!record) return { kind: 'unknown' };
    if (record.status !== 'revoked') return { kind: 'good' };
    return {
      kind: 'revoked',
      revokedAt: record.revokedAt ?? now,
      ...(record.revocationReason && record.revocationReason !== 'unspecified'
        ? { reason: record.revocationReason }
        : {}),
    };
  }
}

function failure(status: OcspErrorStatus, e: unknown): OcspAnswer {
  return { der: ocspErrorResponse(status), status, certStatuses: [], error: toOutpostError(e) };
}

function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
