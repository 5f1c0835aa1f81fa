import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type AgentCredentials,
  certificateMatchesKey,
  readAgentCredentials,
  replaceAgentCredentials,
} from './enroll/agent-files.js';
import { agentKeyAndCsr } from './enroll/enroll.js';

/** When renewal is due: at `fraction` of the certificate's lifetime (2/3 by default). */
export function renewalDue(validity: { notBefore: Date; notAfter: Date }, fraction: number): Date {
  const start = validity.notBefore.getTime();
  return new Date(start + (validity.notAfter.getTime() - start) * fraction);
}

export interface RenewalOptions {
  dataDir: string;
  fraction: number;
  /** The pinned cloud CA bundle; a renewed certificate must chain to it. */
  cloudCa?: string;
  logger: Logger;
  clock?: () => Date;
  /** A `renew` unanswered this long is forgotten and asked again at the next check. */
  answerTimeoutMs?: number;
}

interface Pending {
  ref: string;
  keyPem: string;
  sentAt: number;
}

/**
 * Renews the link's client certificate over the link before it expires: a new key pair each time
 * (never the old key), a `renew` with its CSR, and on the matching `renewed` the files are replaced
 * (crash-safe, see agent-files.ts). The current connection keeps its TLS session; the next connect
 * presents the new certificate.
 */
export class AgentRenewal {
  private pending: Pending | undefined;
  private readonly clock: () => Date;
  renewals = 0;

  constructor(private readonly options: RenewalOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  credentials(): AgentCredentials {
    return readAgentCredentials(this.options.dataDir);
  }

  dueAt(): Date {
    return renewalDue(this.credentials(), this.options.fraction);
  }

  /** If due and nothing is in flight, sends `renew` through `send` (which returns its message id). */
  async maybeRenew(send: (csrPem: string) => string | undefined): Promise<boolean> {
    const now = this.clock().getTime();
    const timeout = this.options.answerTimeoutMs ?? 60_000;
    if (this.pending && now - this.pending.sentAt < timeout) return false;
    if (this.dueAt().getTime() > now) return false;
    const { keyPem, csrPem } = await agentKeyAndCsr();
    const ref = send(csrPem);
    if (ref === undefined) return false;
    this.pending = { ref, keyPem, sentAt: now };
    this.options.logger.info({ dueAt: this.dueAt().toISOString() }, 'agent certificate renewal requested');
    return true;
  }

  /** The cloud answered `renewed`; returns the new notAfter when the certificate was installed. */
  complete(message: { ref: string; certificate: string; chain: string[] }): Date | undefined {
    const log = this.options.logger;
    if (!this.pending || message.ref !== this.pending.ref) {
      log.warn({ ref: message.ref }, 'renewed for no pending renew; ignored');
      return undefined;
    }
    const { keyPem } = this.pending;
    this.pending = undefined;
    const pem = [message.certificate, ...message.chain]
      .map((p) => (p.endsWith('\n') ? p : `${p}\n`))
      .join('');
    const problem = this.check(pem, keyPem);
    if (problem) {
      log.error({ problem }, 'renewed certificate refused; the current one stays');
      return undefined;
    }
    replaceAgentCredentials(this.options.dataDir, keyPem, pem);
    this.renewals++;
    const notAfter = new Date(new X509Certificate(message.certificate).validTo);
    log.info({ notAfter: notAfter.toISOString() }, 'agent certificate renewed');
    return notAfter;
  }

  /** The cloud refused our `renew` (error naming it): try again at the next check. */
  refused(ref: string): boolean {
    if (this.pending?.ref !== ref) return false;
    this.pending = undefined;
    return true;
  }

  private check(pem: string, keyPem: string): string | undefined {
    if (!certificateMatchesKey(pem, keyPem)) return 'not for the key sent';
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(pem);
    } catch {
      return 'not a certificate';
    }
    if (new Date(leaf.validTo).getTime() <= this.clock().getTime()) return 'already expired';
    const current = new X509Certificate(this.credentials().cert);
    if (leaf.subject !== current.subject) return 'issued for another appliance';
    if (this.options.cloudCa && !chainsTo(leaf, pem, this.options.cloudCa))
      return 'not issued by the cloud CA';
    return undefined;
  }
}

/** Whether `leaf` is signed by a certificate of the pinned bundle or by a chain member signed by one. */
function chainsTo(leaf: X509Certificate, bundle: string, caBundle: string): boolean {
  const anchors = splitPem(caBundle).map((p) => new X509Certificate(p));
  const chain = splitPem(bundle)
    .slice(1)
    .map((p) => new X509Certificate(p));
  let current = leaf;
  for (let depth = 0; depth <= chain.length; depth++) {
    if (anchors.some((a) => current.checkIssued(a) && current.verify(a.publicKey))) return true;
    const next = chain.find((c) => current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) return false;
    current = next;
  }
  return false;
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
