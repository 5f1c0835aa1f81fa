import { createPublicKey } from 'node:crypto';
import { buildCsr, type ParsedCsr, parseCsr } from '../../../certs/csr.js';
import { keysMatch } from '../../../certs/keys.js';
import { ErrorCodes, isOutpostError, OutpostError } from '../../../core/errors.js';
import type { RevocationReason } from '../../../link/schema/revocation-reason.js';
import type { BackendHealth, CaBackend, IssueRequest, IssueResult } from '../ca-backend.js';
import { isPendingIssue } from '../ca-backend.js';
import {
  loadCachedCaCerts,
  openRaClientCredentials,
  type RaClientCredentials,
  saveCachedCaCerts,
} from './ra-client-credentials.js';
import { type UpstreamCaCerts, upstreamCaCerts } from './upstream-ca-certs.js';
import {
  algorithmsFor,
  certPoll,
  type OutgoingMessage,
  pkcsReq,
  readCertRep,
  type UpstreamAlgorithms,
  upstreamTransactionId,
} from './upstream-messages.js';
import { UpstreamScepClient } from './upstream-scep-client.js';

export interface ScepUpstreamOptions {
  /** The upstream's SCEP URL, e.g. http://ca.corp:8080/scep. */
  url: string;
  /** Holds the RA client key (0600), its certificate and the last GetCACert answer. */
  dir: string;
  timeoutMs: number;
  /** Ask the upstream about a PENDING request at most this often. */
  pollIntervalSeconds: number;
  /** Give up (reject) a request the upstream has not decided on after this long. */
  pollTimeoutSeconds: number;
  /** SHA-256 of the upstream CA certificate: GetCACert must chain to it. */
  caFingerprint?: string;
  /**
   * The upstream's challenge password. It can only be put into CSRs the RA signs itself, i.e. for
   * keys Outpost generated (IssueRequest.subjectKey); a device's CSR is forwarded as it is.
   */
  challenge?: string;
  clock?: () => Date;
}

/** GetCACaps / GetCACert are asked again after this long, to follow a CA certificate rollover. */
const SESSION_TTL_MS = 10 * 60 * 1000;

interface Session {
  credentials: RaClientCredentials;
  ca: UpstreamCaCerts;
  algorithms: UpstreamAlgorithms;
  fetchedAt: number;
}

/**
 * An upstream SCEP CA behind Outpost acting as RA (RFC 8894 §2.1): the Authority has already
 * checked the device's challenge and CSR; this forwards the device's CSR, unchanged (it is signed
 * by the device, so nothing can be added to it), in a fresh PKCSReq signed with the RA's own
 * client credentials, and reads the CertRep. PENDING is polled with CertPoll on a bounded
 * schedule. The upstream decides validity, key usage and EKU (micromdm scepserver: its -crtvalid
 * days, digitalSignature + clientAuth); a challenge it enforces must already be in the device's
 * CSR, so run the upstream without a challenge, or with the same static challenge as Outpost.
 */
export class ScepUpstreamCa implements CaBackend {
  readonly type = 'scep-upstream';
  private session: Session | undefined;
  private cachedCa: UpstreamCaCerts | undefined;
  /** Upstream transaction id → when we last asked about it (the poll schedule's memory). */
  private readonly lastAsked = new Map<string, number>();
  private readonly client: UpstreamScepClient;
  private readonly clock: () => Date;

  private constructor(
    private readonly options: ScepUpstreamOptions,
    private readonly credentials: RaClientCredentials,
  ) {
    this.client = new UpstreamScepClient(options.url, options.timeoutMs);
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Loads (or creates) the RA client credentials and the cached upstream chain. The upstream is
   * asked only when nothing is cached (first start), so a restart or a CLI verb while it is down
   * still works.
   */
  static async open(options: ScepUpstreamOptions): Promise<ScepUpstreamCa> {
    const clock = options.clock ?? (() => new Date());
    const backend = new ScepUpstreamCa(options, await openRaClientCredentials(options.dir, clock()));
    const cached = await loadCachedCaCerts(options.dir);
    if (cached) {
      try {
        backend.cachedCa = upstreamCaCerts(cached, options.caFingerprint);
      } catch {
        // a cache that no longer matches the pinned fingerprint is ignored and fetched again
      }
    }
    if (!backend.cachedCa) await backend.health();
    return backend;
  }

  async issue(req: IssueRequest): Promise<IssueResult> {
    const csr = this.forwardable(req);
    const session = await this.currentSession();
    const result = await this.exchange(session, pkcsReq(session, this.withChallenge(req), csr), csr);
    if (isPendingIssue(result)) this.lastAsked.set(upstreamTransactionId(csr), this.clock().getTime());
    return result;
  }

  /**
   * At most one CertPoll per interval per request (the Authority asks on every device poll and
   * from its maintenance timer); after pollTimeoutSeconds the request is given up as refused.
   */
  async poll(req: IssueRequest, since: Date): Promise<IssueResult> {
    const now = this.clock().getTime();
    const { pollIntervalSeconds, pollTimeoutSeconds } = this.options;
    if (now - since.getTime() > pollTimeoutSeconds * 1000) {
      throw new OutpostError(ErrorCodes.badRequest, 'the upstream CA did not issue the certificate in time', {
        detail: `pending for more than ${pollTimeoutSeconds} s`,
      });
    }
    const transactionId = upstreamTransactionId(req.csr);
    const last = this.lastAsked.get(transactionId);
    if (last !== undefined && now - last < pollIntervalSeconds * 1000) return { pending: true };
    this.lastAsked.set(transactionId, now);
    const session = await this.currentSession();
    const result = await this.exchange(session, certPoll(session, req.csr), req.csr);
    if (!isPendingIssue(result)) this.lastAsked.delete(transactionId);
    return result;
  }

  /** SCEP has no revocation operation (RFC 8894 has GetCRL only): the inventory keeps its own status. */
  async revoke(_serialHex: string, _reason: RevocationReason): Promise<void> {
    throw new OutpostError(ErrorCodes.unsupported, 'an upstream SCEP CA cannot revoke certificates', {
      detail: 'RFC 8894 has no revocation request',
    });
  }

  /** The upstream CA chain as last fetched (or cached from an earlier run); empty until known. */
  caChain(): Buffer[] {
    return (this.session?.ca ?? this.cachedCa)?.chain ?? [];
  }

  currentCrl(): Buffer | undefined {
    return undefined;
  }

  /** GetCACaps and GetCACert answered, within the timeout, by a CA matching the pin. */
  async health(): Promise<BackendHealth> {
    try {
      await this.refresh();
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: isOutpostError(e) ? e.clientMessage : 'upstream check failed' };
    }
  }

  /**
   * The device's CSR is what reaches the upstream, so anything the Authority wants changed in
   * the certificate (subject, SANs, extensions such as the SID mapping) cannot be carried: refuse
   * rather than issue a certificate without it.
   */
  private forwardable(req: IssueRequest): ParsedCsr {
    const { csr } = req;
    const unsupported = (what: string) =>
      new OutpostError(
        ErrorCodes.unsupported,
        `an upstream SCEP CA signs the device's CSR as it is: ${what} cannot be added`,
      );
    if (req.subject && !req.subject.equals(csr.subject.der)) throw unsupported('a different subject');
    if (req.extraExtensions && req.extraExtensions.length > 0) throw unsupported('extensions');
    if (req.sans && JSON.stringify(sortedSans(req.sans)) !== JSON.stringify(sortedSans(csr.sans))) {
      throw unsupported('different SANs');
    }
    return csr;
  }

  /**
   * The CSR to send: the device's, or, when Outpost holds the key and the upstream wants a
   * challenge, one the RA builds for the same key, subject and SANs with the challenge in it
   * (micromdm scepserver reads it from the CSR's challengePassword attribute, RFC 2985 §5.4.1).
   */
  private withChallenge(req: IssueRequest): ParsedCsr {
    const { challenge } = this.options;
    if (!challenge || !req.subjectKey) return req.csr;
    const keys = { privateKey: req.subjectKey, publicKey: createPublicKey(req.subjectKey) };
    if (!keysMatch(keys.privateKey, req.csr.publicKey)) {
      throw new OutpostError(ErrorCodes.internal, 'internal error', {
        detail: 'subjectKey is not the CSR key',
      });
    }
    return parseCsr(
      buildCsr(req.csr.subject.text, keys, {
        sans: req.sans ?? req.csr.sans,
        challengePassword: challenge,
        ...(req.csr.requestedKeyUsage.length > 0 ? { keyUsage: req.csr.requestedKeyUsage } : {}),
        ...(req.csr.requestedEku.length > 0 ? { eku: req.csr.requestedEku } : {}),
      }),
    );
  }

  private async exchange(session: Session, sent: OutgoingMessage, csr: ParsedCsr): Promise<IssueResult> {
    const reply = await this.client.pkiOperation(sent.der, session.algorithms.post);
    return readCertRep(session, sent, csr, reply);
  }

  private async currentSession(): Promise<Session> {
    const s = this.session;
    if (s && this.clock().getTime() - s.fetchedAt < SESSION_TTL_MS) return s;
    return this.refresh();
  }

  /** GetCACaps + GetCACert, pinned; the certificates are cached on disk for the next start. */
  private async refresh(): Promise<Session> {
    const [caps, certs] = await Promise.all([this.client.capabilities(), this.client.caCertificates()]);
    const ca = upstreamCaCerts(certs, this.options.caFingerprint);
    const known = this.session?.ca.all ?? this.cachedCa?.all;
    if (!known || known.length !== ca.all.length || known.some((der, i) => !der.equals(ca.all[i]!))) {
      await saveCachedCaCerts(this.options.dir, ca.all);
    }
    this.session = {
      credentials: this.credentials,
      ca,
      algorithms: algorithmsFor(caps),
      fetchedAt: this.clock().getTime(),
    };
    return this.session;
  }
}

function sortedSans(sans: IssueRequest['csr']['sans']): string[][] {
  return (['dns', 'email', 'uri', 'ip', 'upn'] as const).map((kind) => [...sans[kind]].sort());
}
