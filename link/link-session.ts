import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCodes } from '../core/errors.js';
import type { ConfigDispatcher } from './config-dispatcher.js';
import type { JobRunner } from './job-runner.js';
import type { CancelOutcome, JobJournal, OutboxEntry, UndeliveredResult } from './journal/job-journal.js';
import type { ApplianceMessage, HealthReport } from './schema/appliance-messages.js';
import type { CloudMessage } from './schema/cloud-messages.js';
import { LinkDecodeError } from './schema/decode-error.js';
import { LinkLimits } from './schema/limits.js';
import { beforeWelcome, OUT_OF_ORDER } from './schema/ordering.js';
import { encodeLinkMessage, parseCloudMessage } from './schema/parse.js';

/** The one socket operation a session needs; ws and the tests' fake both provide it. */
export interface LinkSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface SessionIdentity {
  applianceId: string;
  roles: Array<'gateway' | 'connector'>;
  version: string;
}

/** What a session hands on to the rest of the link (renewal, JWKS consumers, the client's backoff). */
export interface SessionHooks {
  welcomed(session: LinkSession): void;
  jwks(message: Extract<CloudMessage, { type: 'jwks' }>): void;
  renewed(message: Extract<CloudMessage, { type: 'renewed' }>): void;
  /** The cloud refused one of our messages (or the hello). */
  refused(message: Extract<CloudMessage, { type: 'error' }>): void;
}

export interface SessionOptions {
  socket: LinkSocket;
  identity: SessionIdentity;
  journal: JobJournal;
  runner: JobRunner;
  configs: ConfigDispatcher;
  hooks: SessionHooks;
  logger: Logger;
  newId?: () => string;
}

type Outgoing = ApplianceMessage extends infer M
  ? M extends { id: string; v: 1 }
    ? Omit<M, 'id' | 'v'>
    : never
  : never;

/**
 * One connection's protocol (link/schema/ordering.ts): `hello` first, nothing but `welcome`/`error`
 * accepted before `welcome`, then jobs (offer, start, cancel), configs, acks, keys and renewals. Every received message is
 * validated; an invalid one is answered with `error` (logged once per connection and reason) and the
 * connection stays open. Sending never throws: a message the schema refuses is logged and dropped.
 */
export class LinkSession {
  private established = false;
  private closed = false;
  private readonly loggedReasons = new Set<string>();
  private readonly newId: () => string;
  private readonly log: Logger;

  constructor(private readonly options: SessionOptions) {
    this.newId = options.newId ?? randomUUID;
    this.log = options.logger;
  }

  get welcomed(): boolean {
    return this.established;
  }

  /** Opens the conversation: `hello` with the journal's view of config and jobs. */
  start(): void {
    const { identity, journal, configs } = this.options;
    this.send({
      type: 'hello',
      applianceId: identity.applianceId,
      roles: identity.roles,
      version: identity.version,
      configVersion: configs.appliedVersion(),
      pendingResults: journal.pendingJobIds(LinkLimits.maxPendingResults),
    });
  }

  /** The socket closed: later sends are no-ops, the journal keeps what was not acked. */
  end(): void {
    this.closed = true;
  }

  receive(data: string | Buffer): void {
    let message: CloudMessage;
    try {
      message = parseCloudMessage(data);
    } catch (e) {
      if (!(e instanceof LinkDecodeError)) throw e;
      this.refuse(e.reason, e.clientMessage, e.ref, ErrorCodes.decode);
      return;
    }
    if (!this.established && !beforeWelcome.includes(message.type)) {
      this.refuse(OUT_OF_ORDER, `${message.type} before welcome`, message.id, ErrorCodes.badRequest);
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: CloudMessage): void {
    const { journal, runner, hooks } = this.options;
    switch (message.type) {
      case 'welcome':
        return this.onWelcome(message);
      case 'job':
        return runner.deliver({ id: message.job.id, kind: message.job.kind, payload: message.job.payload });
      case 'job.start':
        return runner.start(message.jobId);
      case 'job.cancel': {
        const status = runner.cancel(message.jobId);
        this.log.info({ jobId: message.jobId, reason: message.reason, status }, 'job cancelled by the cloud');
        return;
      }
      case 'ack':
        if (message.jobId === undefined || !journal.ackJob(message.jobId)) journal.ack(message.ref);
        return;
      case 'config':
        return void this.onConfig(message);
      case 'jwks':
        return hooks.jwks(message);
      case 'renewed':
        return hooks.renewed(message);
      case 'error':
        return hooks.refused(message);
    }
  }

  private onWelcome(message: Extract<CloudMessage, { type: 'welcome' }>): void {
    if (this.established) {
      this.refuse(OUT_OF_ORDER, 'second welcome', message.id, ErrorCodes.badRequest);
      return;
    }
    if (message.applianceId !== this.options.identity.applianceId) {
      // The cloud thinks we are someone else: nothing on this connection can be trusted to be ours.
      this.log.error(
        { expected: this.options.identity.applianceId, got: message.applianceId },
        'welcome for another appliance',
      );
      this.options.socket.close(1008, 'appliance id mismatch');
      return;
    }
    this.established = true;
    this.options.hooks.welcomed(this);
  }

  private async onConfig(message: Extract<CloudMessage, { type: 'config' }>): Promise<void> {
    const result = await this.options.configs.apply(message.version, message.config);
    this.send({ type: 'config.result', version: message.version, ...result });
  }

  sendAccepted(jobId: string): void {
    this.send({ type: 'job.accepted', jobId });
  }

  sendCancelled(jobId: string, status: CancelOutcome): void {
    this.send({ type: 'job.cancelled', jobId, status });
  }

  /** Sends a journaled result under a fresh message id, recorded so an ack naming it is understood. */
  sendResult(result: UndeliveredResult): void {
    if (!this.established || this.closed) return;
    const id = this.newId();
    const { outcome } = result;
    const body: Outgoing = outcome.ok
      ? { type: 'job.result', jobId: result.jobId, status: 'done', result: outcome.result }
      : { type: 'job.result', jobId: result.jobId, status: 'failed', error: outcome.error };
    this.options.journal.setResultMessageId(result.jobId, id);
    if (!this.send(body, id) && outcome.ok) {
      // A result the schema refuses (too large for one message) would be resent forever: report why instead.
      const error = {
        code: ErrorCodes.limit,
        retryable: false,
        message: 'job result exceeds the link message limit',
      };
      this.send({ type: 'job.result', jobId: result.jobId, status: 'failed', error }, id);
    }
  }

  sendEvent(entry: OutboxEntry): void {
    if (!this.established || this.closed) return;
    this.send({ type: 'event', ...(entry.body as { at: string; event: never }) }, entry.messageId);
  }

  sendHealth(report: HealthReport): void {
    if (!this.established || this.closed) return;
    this.send({ type: 'health', report });
  }

  /** `renew` with a CSR; returns its message id (what `renewed.ref` will name) or undefined if not sent. */
  sendRenew(csrPem: string): string | undefined {
    if (!this.established || this.closed) return undefined;
    const id = this.newId();
    return this.send({ type: 'renew', csr: csrPem }, id) ? id : undefined;
  }

  private refuse(reason: string, text: string, ref: string | undefined, code: string): void {
    const key = `${reason}`;
    const level = this.loggedReasons.has(key) ? 'debug' : 'warn';
    this.loggedReasons.add(key);
    this.log[level]({ reason, ref, detail: text }, 'refused a message from the cloud');
    this.send({
      type: 'error',
      code,
      reason,
      message: text.slice(0, LinkLimits.maxTextLength),
      ...(ref !== undefined ? { ref } : {}),
    });
  }

  /** Encodes (validating against the shared schema) and sends; false when refused or closed. */
  private send(body: Outgoing, id: string = this.newId()): boolean {
    if (this.closed) return false;
    let text: string;
    try {
      text = encodeLinkMessage({ v: 1, id, ...body } as ApplianceMessage, 'appliance');
    } catch (e) {
      this.log.error({ type: body.type, err: e }, 'message refused by the link schema; not sent');
      return false;
    }
    try {
      this.options.socket.send(text);
      return true;
    } catch (e) {
      this.log.debug({ type: body.type, err: e }, 'send failed; the socket is closing');
      return false;
    }
  }
}
