import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ErrorCodes, isOutpostError } from '../../core/errors.js';
import {
  buildConnectResponse,
  type ConnectRequest,
  negotiateMtu,
  parseConnectRequest,
} from '../cstp/index.js';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';
import type { SessionTable } from '../session/session-table.js';
import type { AuthDialogue } from './auth-dialogue.js';
import { CstpTunnel, clientLogout, type TunnelCounters } from './cstp-tunnel.js';
import { connectParams, type GatewayPolicy } from './gateway-policy.js';
import { packetAddress } from './packet-address.js';
import type { AddressAllocator, BanList, PacketDevice } from './ports.js';

export interface GatewayServerOptions {
  tls: { cert: Buffer; key: Buffer; clientCa?: Buffer[] };
  dialogue: AuthDialogue;
  sessions: SessionTable;
  /** The policy (pool, DNS, routes, timers) of an identity's group; see policy-selector.ts. */
  policyFor: (identity: Identity) => { policy: GatewayPolicy; addresses: AddressAllocator };
  device: PacketDevice;
  bans: BanList;
  /** The TUN's MTU: the largest tunnel MTU handed out. */
  tunMtu: number;
  counters: TunnelCounters;
  /** Called once per ended session, after the access log line (metrics totals). */
  sessionEnded?: (session: Session) => void;
  logger: Logger;
}

const maxBodyBytes = 64 * 1024;
const maxQueuedBytes = 4 * 1024 * 1024;

/**
 * The gateway's TLS listener. Node's https server parses the HTTP of the auth dialogue (POSTs)
 * and hands `CONNECT /CSCOSSLC/tunnel` over as a raw TLS socket, which then carries CSTP.
 * Limits: TLS 1.2+, handshake and header time limits (slowloris), body size, queued bytes.
 */
export class GatewayServer {
  readonly server: Server;
  private readonly tunnels = new Map<string, CstpTunnel>();

  constructor(private readonly o: GatewayServerOptions) {
    this.server = createServer({
      cert: o.tls.cert,
      key: o.tls.key,
      minVersion: 'TLSv1.2',
      requestCert: (o.tls.clientCa?.length ?? 0) > 0,
      rejectUnauthorized: false, // the certificate authenticator decides, so the client gets a form, not a reset
      ...(o.tls.clientCa ? { ca: o.tls.clientCa } : {}),
      handshakeTimeout: 10_000,
      headersTimeout: 10_000,
      requestTimeout: 15_000,
      keepAliveTimeout: 30_000,
      maxHeaderSize: 16 * 1024,
    });
    this.server.on('request', (req, res) => void this.onRequest(req, res));
    this.server.on('connect', (req, socket, head) => this.onConnect(req, socket, head));
    this.server.on('tlsClientError', (err, socket) => {
      this.o.logger.debug({ remote: socket.remoteAddress, reason: err.message }, 'TLS handshake failed');
    });
    o.device.onPacket((packet) => this.fromDevice(packet));
    o.sessions.onClosed = (session, reason) => this.onSessionClosed(session, reason);
  }

  /**
   * Swaps the server certificate for new handshakes; established tunnels keep their TLS session
   * (ocserv needs a reload for this; here a renewed certificate drops nobody). Throws, keeping the
   * old certificate, when the new pair does not load.
   */
  reloadTls(cert: Buffer, key: Buffer): void {
    const clientCa = this.o.tls.clientCa;
    this.server.setSecureContext({ cert, key, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa } : {}) });
    this.o.tls = { ...this.o.tls, cert, key };
  }

  /**
   * New group policies (DNS, routes, timers, membership) for tunnels opened from now on; open
   * tunnels keep what their CONNECT answer gave them, as clients only read it then.
   */
  setPolicy(policyFor: GatewayServerOptions['policyFor']): void {
    this.o.policyFor = policyFor;
  }

  /** The CA bundle client certificates are asked for (undefined: certificate auth is off). */
  setClientCa(clientCa: Buffer[] | undefined): void {
    const { cert, key } = this.o.tls;
    this.o.tls = { cert, key, ...(clientCa ? { clientCa } : {}) };
    // tls.Server reads requestCert for each new connection.
    (this.server as unknown as { requestCert: boolean }).requestCert = (clientCa?.length ?? 0) > 0;
    this.reloadTls(cert, key);
  }

  /**
   * Moves the listener to another address: the old socket stops accepting, established tunnels
   * stay up. On failure the old address is listened on again and the error is thrown.
   */
  async relisten(host: string, port: number, previous: { host: string; port: number }): Promise<void> {
    this.server.close();
    try {
      await this.listen(host, port);
    } catch (e) {
      await this.listen(previous.host, previous.port);
      throw e;
    }
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops accepting, tells every client, and waits for the listener to close. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.o.sessions.list()) this.o.sessions.close(session, 'server shutdown');
    this.server.closeAllConnections();
    await closing;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket as TLSSocket;
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    if (req.method !== 'POST' && req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, POST' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch {
      this.o.bans.penalize(remoteAddress, 'protocol');
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('request too large\n');
      return;
    }
    const reply = await this.o.dialogue.handle({
      path: req.url ?? '/',
      body,
      headers: req.headers,
      remoteAddress,
      clientChainDer: peerChain(socket),
    });
    res.writeHead(reply.status, reply.headers).end(reply.body);
  }

  private onConnect(req: IncomingMessage, stream: Duplex, head: Buffer): void {
    const socket = stream as TLSSocket;
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const refuse = (status: string, reason: string) => {
      this.o.logger.info({ remote: remoteAddress, reason }, 'CONNECT refused');
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (req.url !== '/CSCOSSLC/tunnel') return refuse('404 Not Found', `unknown CONNECT target ${req.url}`);
    let request: ConnectRequest;
    let session: Session;
    try {
      request = parseConnectRequest(req.headers);
      session = this.o.sessions.byCookieValue(request.cookie);
    } catch (e) {
      this.o.bans.penalize(remoteAddress, 'auth');
      const unauthorized = isOutpostError(e) && e.code === ErrorCodes.unauthorized;
      return refuse(unauthorized ? '401 Unauthorized' : '400 Bad Request', (e as Error).message);
    }
    this.tunnels.get(session.id)?.terminate('replaced by a new connection');
    const { policy, addresses } = this.o.policyFor(session.identity);
    const assigned = addresses.allocate(session.id);
    session.ipv4 = assigned.ipv4;
    if (assigned.ipv6) session.ipv6 = assigned.ipv6;
    const mtu = negotiateMtu({
      baseMtu: request.baseMtu,
      clientMtu: request.mtu,
      configuredMtu: this.o.tunMtu,
      transport: socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4',
    });
    try {
      socket.write(buildConnectResponse(connectParams(policy, session, request, mtu, Date.now())));
    } catch (e) {
      this.o.logger.error({ err: e }, 'cannot build the CONNECT reply');
      return refuse('500 Internal Server Error', 'bad gateway policy');
    }
    const log = this.o.logger.child({
      session: session.id,
      user: session.identity.username,
      remote: remoteAddress,
    });
    const tunnel = new CstpTunnel({
      socket,
      session,
      head,
      mtu: mtu.mtu,
      timers: policy.timers,
      toTun: (packet) => this.o.device.write(packet),
      counters: this.o.counters,
      logger: log,
      maxQueuedBytes,
      onClose: (reason) => {
        if (this.tunnels.get(session.id) === tunnel) this.tunnels.delete(session.id);
        if (reason === clientLogout) this.o.sessions.close(session, reason);
        else if (session.state === 'connected') {
          this.o.sessions.markDisconnected(session);
          addresses.release(session.id, policy.timers.cookie * 1000);
        }
        log.info({ reason }, 'tunnel closed');
      },
    });
    this.tunnels.set(session.id, tunnel);
    this.o.sessions.markConnected(session);
    log.info({ ipv4: session.ipv4, ipv6: session.ipv6, mtu: mtu.mtu }, 'tunnel connected');
  }

  private fromDevice(packet: Buffer): void {
    const destination = packetAddress(packet, 'destination');
    const session = destination ? this.o.sessions.byTunnelAddress(destination) : undefined;
    if (!session) return;
    this.tunnels.get(session.id)?.sendPacket(packet);
  }

  /** Per-session access log line (ocserv prints one too) and the address goes back to the pool. */
  private onSessionClosed(session: Session, reason: string): void {
    this.o.policyFor(session.identity).addresses.release(session.id, 0);
    this.o.logger.info(
      {
        session: session.id,
        user: session.identity.username,
        device: session.identity.device,
        remote: session.remoteAddress,
        ipv4: session.ipv4,
        ipv6: session.ipv6,
        bytesIn: session.bytesIn,
        bytesOut: session.bytesOut,
        durationSeconds: Math.round((Date.now() - session.createdAt) / 1000),
        reason,
      },
      'session closed',
    );
    this.o.sessionEnded?.(session);
  }
}

function peerChain(socket: TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  let cert = socket.getPeerCertificate?.(true);
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new Error('body too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
