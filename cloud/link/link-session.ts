import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { ErrorCodes, OutpostError, toOutpostError } from '../../core/errors.js';
import {
  type ApplianceMessage,
  type ApplianceRole,
  encodeLinkMessage,
  LinkDecodeError,
  OUT_OF_ORDER,
  parseApplianceMessage,
} from '../../link/schema/index.js';
import { spkiFromCsrPem } from '../pki/csr-input.js';
import type { ApplianceConnection, Outbound } from './connections.js';
import type { LinkContext } from './link-context.js';

type Message<T extends ApplianceMessage['type']> = Extract<ApplianceMessage, { type: T }>;

/** WebSocket close codes (RFC 6455 §7.4.1; 4000-4999 private use). */
export const CloseCodes = { policy: 1008, goingAway: 1001, replaced: 4000, revoked: 4003 } as const;

/**
 * One appliance's WebSocket, from upgrade to close. The TLS client certificate already named the
 * appliance (`certApplianceId`); its `hello` must say the same. Every message is parsed with the shared
 * schema; anything refused is answered with an `error` naming it and the connection stays open
 * (ordering.ts lists the rules).
 */
export class LinkSession implements ApplianceConnection {
  alive = true;
  private helloDone = false;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Messages refused as the peer's fault (undecodable, malformed CSR, over rate) on this connection. */
  private peerFaults = 0;
  roles: ReadonlySet<ApplianceRole> = new Set();

  constructor(
    private readonly ws: WebSocket,
    readonly applianceId: string,
    private readonly enrolledRoles: readonly ApplianceRole[],
    readonly site: string,
    private readonly ctx: LinkContext,
    helloTimeoutMs: number,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => ctx.logger.debug({ err, applianceId }, 'link socket error'));
    // A socket that never says hello holds a slot for nothing (DESIGN rule 4: every input has a time limit).
    this.helloTimer = setTimeout(() => this.close(CloseCodes.policy, 'no hello'), helloTimeoutMs);
    this.helloTimer.unref();
  }

  send(message: Outbound): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeLinkMessage({ v: 1, id: randomUUID(), ...message } as never, 'cloud'));
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Missed a pong since the last ping: the peer or the path is dead. */
  heartbeat(): void {
    if (!this.alive) {
      this.ctx.logger.info({ applianceId: this.applianceId }, 'link dead (no pong), terminating');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    if (this.peerFaults > 1) {
      this.ctx.logger.warn(
        { applianceId: this.applianceId, refused: this.peerFaults },
        'appliance messages refused on this connection',
      );
    }
    if (this.helloDone && this.ctx.connections.remove(this)) {
      this.ctx.logger.info({ applianceId: this.applianceId }, 'appliance disconnected');
      this.ctx.dispatcher.onDisconnect(this.applianceId);
    }
  }

  private onFrame(data: Buffer, _isBinary: boolean): void {
    let message: ApplianceMessage;
    try {
      message = parseApplianceMessage(data);
    } catch (e) {
      if (!(e instanceof LinkDecodeError)) throw e;
      this.peerFault(undefined, ErrorCodes.decode, e.reason);
      this.refuse(e.ref, ErrorCodes.decode, e.reason, e.clientMessage);
      return;
    }
    try {
      this.dispatch(message);
    } catch (e) {
      const error = toOutpostError(e);
      if (error.code === ErrorCodes.internal) {
        this.ctx.logger.error(
          { err: error, applianceId: this.applianceId, type: message.type },
          'link message failed',
        );
      } else {
        this.peerFault(message.type, error.code, error.message);
      }
      this.refuse(message.id, error.code, undefined, error.clientMessage);
    }
  }

  /**
   * Bad input from the peer (a malformed CSR in `renew`, an undecodable frame) is the peer's
   * problem, not ours: the first of a connection is logged at warn without a stack, the rest are
   * counted and the count logged when the connection closes. The peer gets an `error` each time.
   */
  private peerFault(type: string | undefined, code: string, reason: string): void {
    this.peerFaults += 1;
    if (this.peerFaults > 1) return;
    this.ctx.logger.warn(
      { applianceId: this.applianceId, type, code, reason },
      'appliance message refused (further ones on this connection are only counted)',
    );
  }

  private refuse(ref: string | undefined, code: string, reason: string | undefined, message: string): void {
    this.send({
      type: 'error',
      code,
      message,
      ...(ref !== undefined ? { ref } : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
  }

  private dispatch(message: ApplianceMessage): void {
    if (message.type === 'error') {
      this.ctx.logger.warn(
        { applianceId: this.applianceId, ref: message.ref, code: message.code, reason: message.reason },
        'appliance reported an error',
      );
      return;
    }
    if (message.type === 'hello') return this.onHello(message);
    if (!this.helloDone) {
      return this.refuse(message.id, ErrorCodes.badRequest, OUT_OF_ORDER, `${message.type} before hello`);
    }
    switch (message.type) {
      case 'health':
        this.ctx.appliances.recordHealth(this.applianceId, message.report, this.ctx.clock());
        return this.ack(message.id);
      case 'event':
        if (
          this.ctx.events.add(this.applianceId, message.id, message.at, message.event, this.ctx.clock()) ===
          'limited'
        ) {
          // Not acked: the appliance keeps the event in its journal and sends it again later.
          throw new OutpostError(ErrorCodes.busy, 'too many events; send again later');
        }
        return this.ack(message.id);
      case 'job.accepted':
        return this.onJobAccepted(message);
      case 'job.cancelled':
        return this.ctx.dispatcher.onCancelled(this, message.jobId, message.status);
      case 'job.result':
        return this.onJobResult(message);
      case 'config.result':
        return this.onConfigResult(message);
      case 'renew':
        return this.onRenew(message);
    }
  }

  private ack(ref: string, jobId?: string): void {
    this.send({ type: 'ack', ref, ...(jobId !== undefined ? { jobId } : {}) });
  }

  private onHello(hello: Message<'hello'>): void {
    if (this.helloDone) return this.refuse(hello.id, ErrorCodes.badRequest, OUT_OF_ORDER, 'hello sent twice');
    if (hello.applianceId !== this.applianceId) {
      this.refuse(
        hello.id,
        ErrorCodes.unauthorized,
        'identity',
        'applianceId is not the client certificate CN',
      );
      return this.close(CloseCodes.policy, 'identity mismatch');
    }
    const granted = hello.roles.filter((r) => this.enrolledRoles.includes(r));
    if (granted.length < hello.roles.length) {
      this.refuse(
        hello.id,
        ErrorCodes.unauthorized,
        'role',
        'a role in hello was not enrolled; it gets no jobs',
      );
    }
    this.roles = new Set(granted);
    this.helloDone = true;
    clearTimeout(this.helloTimer);
    const previous = this.ctx.connections.add(this);
    previous?.close(CloseCodes.replaced, 'replaced by a newer connection');
    this.ctx.appliances.recordHello(this.applianceId, hello.version, this.ctx.clock());
    this.ctx.logger.info(
      { applianceId: this.applianceId, roles: granted, version: hello.version },
      'appliance connected',
    );
    this.send({ type: 'welcome', applianceId: this.applianceId, serverTime: this.ctx.clock().toISOString() });
    this.send({ type: 'jwks', ...this.ctx.jwks() });
    this.ctx.configPusher.onHello(this, hello.configVersion);
    this.ctx.dispatcher.onHello(this, hello.pendingResults);
  }

  /** Answered by the dispatcher with `job.start` or `job.cancel`; an unknown job is refused as well. */
  private onJobAccepted(message: Message<'job.accepted'>): void {
    const outcome = this.ctx.dispatcher.onAccepted(this, message.jobId);
    if (outcome === 'unknown') {
      this.refuse(message.id, ErrorCodes.notFound, undefined, `no job ${message.jobId} for this appliance`);
    }
  }

  private onJobResult(message: Message<'job.result'>): void {
    const outcome = this.ctx.dispatcher.onResult(
      this,
      message.jobId,
      message.status === 'done'
        ? { status: 'done', result: message.result }
        : { status: 'failed', error: message.error! },
    );
    if (outcome === 'unknown') {
      return this.refuse(
        message.id,
        ErrorCodes.notFound,
        undefined,
        `no job ${message.jobId} for this appliance`,
      );
    }
    if (outcome === 'duplicate')
      this.ctx.logger.debug({ jobId: message.jobId }, 'duplicate job result acked');
    this.ack(message.id, message.jobId);
  }

  private onConfigResult(message: Message<'config.result'>): void {
    if (!this.ctx.configPusher.onResult(this, message.version, message.status, message.error)) {
      return this.refuse(
        message.id,
        ErrorCodes.notFound,
        undefined,
        `config version ${message.version} was never pushed`,
      );
    }
    this.ack(message.id);
  }

  private onRenew(message: Message<'renew'>): void {
    const spki = spkiFromCsrPem(message.csr);
    const issued = this.ctx.ca.issueClientCertificate(
      spki,
      this.applianceId,
      this.ctx.clientCertDays,
      this.ctx.clock(),
    );
    this.ctx.appliances.recordCertificate(this.applianceId, issued.serialHex, issued.notAfter);
    this.ctx.logger.info(
      { applianceId: this.applianceId, serial: issued.serialHex },
      'link certificate renewed',
    );
    this.send({ type: 'renewed', ref: message.id, certificate: issued.pem, chain: [this.ctx.ca.caPem] });
  }
}
