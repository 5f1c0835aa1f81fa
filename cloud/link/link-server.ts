import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { LinkLimits } from '../../link/schema/index.js';
import { checkLinkClientCertificate } from '../pki/link-client-check.js';
import type { ApplianceRecord } from '../store/appliances.js';
import type { LinkContext } from './link-context.js';
import { CloseCodes, LinkSession } from './link-session.js';

export const LINK_PATH = '/v1/link';

export interface LinkServerOptions {
  /** Ping every this often; a socket that missed the previous pong is terminated. */
  pingIntervalMs: number;
  helloTimeoutMs: number;
}

/** Ends an upgrade request with a plain HTTP status: nothing of the WebSocket exists yet. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

/**
 * `wss://…/v1/link` on the cloud's HTTPS server. The TLS server asks for a client certificate but does
 * not require one (`/v1/enroll` has none); the upgrade is where it is required: it must verify against
 * the cloud CA (TLS) and pass checkLinkClientCertificate, and its CN must be an enrolled, non-revoked
 * appliance. Frames above LinkLimits.maxMessageBytes close the socket (ws maxPayload → 1009): such a
 * message cannot be answered, unlike every smaller bad one.
 */
export class LinkServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: LinkLimits.maxMessageBytes,
    perMessageDeflate: false,
  });
  private readonly sessions = new Set<LinkSession>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly ctx: LinkContext,
    private readonly options: LinkServerOptions,
  ) {
    this.pinger = setInterval(() => {
      for (const session of this.sessions) session.heartbeat();
    }, options.pingIntervalMs);
    this.pinger.unref();
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'https://cloud').pathname;
    if (path !== LINK_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    const auth = this.authenticate(socket as TLSSocket);
    if (!auth.ok) {
      this.ctx.logger.warn(
        { reason: auth.reason, remote: (socket as TLSSocket).remoteAddress },
        'link refused',
      );
      return refuseUpgrade(socket, auth.status, auth.status === 403 ? 'Forbidden' : 'Unauthorized');
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      const session = new LinkSession(
        ws,
        auth.applianceId,
        auth.roles,
        auth.site,
        this.ctx,
        this.options.helloTimeoutMs,
      );
      this.sessions.add(session);
      ws.on('close', () => this.sessions.delete(session));
    });
  }

  private authenticate(
    socket: TLSSocket,
  ):
    | { ok: true; applianceId: string; roles: ApplianceRecord['roles']; site: string }
    | { ok: false; status: number; reason: string } {
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (!peer?.raw) return { ok: false, status: 401, reason: 'no client certificate' };
    if (!socket.authorized) {
      return { ok: false, status: 401, reason: `client certificate: ${String(socket.authorizationError)}` };
    }
    const check = checkLinkClientCertificate(peer.raw, this.ctx.ca.cert, this.ctx.clock());
    if (!check.ok) return { ok: false, status: 401, reason: check.reason };
    const appliance = this.ctx.appliances.get(check.applianceId);
    if (!appliance) return { ok: false, status: 401, reason: 'unknown appliance' };
    if (appliance.revokedAt) return { ok: false, status: 403, reason: 'appliance revoked' };
    return { ok: true, applianceId: appliance.id, roles: appliance.roles, site: appliance.site };
  }

  /** Closes an appliance's live link (revocation). */
  disconnect(applianceId: string, code: number, reason: string): void {
    for (const session of this.sessions) if (session.applianceId === applianceId) session.close(code, reason);
  }

  /** Close frames first (appliances reconnect at once elsewhere or later); sockets that hang are cut. */
  async close(graceMs = 2_000): Promise<void> {
    clearInterval(this.pinger);
    for (const session of this.sessions) session.close(CloseCodes.goingAway, 'cloud shutting down');
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const session of this.sessions) session.terminate();
    await new Promise<void>((done) => this.wss.close(() => done()));
  }
}
