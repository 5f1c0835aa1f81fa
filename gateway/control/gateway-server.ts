import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ErrorCodes, isOutpostError } from '../../core/errors.js';
import { sourceAddressKey } from '../auth/source-address-key.js';
import {
  buildConnectResponse,
  type ConnectRequest,
  type HeaderMap,
  negotiateMtu,
  parseConnectRequest,
} from '../cstp/index.js';
import type { DtlsService } from '../dtls/dtls-service.js';
import { admitConnection, type ProxyRefusal } from '../proxy/proxy-admission.js';
import type { TrustedProxies } from '../proxy/trusted-proxies.js';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';
import type { SessionTable } from '../session/session-table.js';
import { ChunkPool } from '../tls/chunk-pool.js';
import { loadEvp } from '../tls/evp.js';
import { clientCaCertificates, gatewayTlsContext } from '../tls/gateway-tls-context.js';
import {
  connectionOf,
  type RecordLayerSetup,
  TakeoverRefusedError,
  TlsConnection,
} from '../tls/tls-connection.js';
import type { PacketDevice } from '../tun/packet-device.js';
import type { TunnelCounters } from '../tunnel/counters.js';
import { reconnectElsewhere } from '../tunnel/cstp-tunnel.js';
import { clientLogout } from '../tunnel/inbound.js';
import { LocalTunnels } from '../tunnel/local-tunnels.js';
import type { RecordLayerKind, TunnelTransport } from '../tunnel/transport.js';
import type { TunnelLog, TunnelTimers } from '../tunnel/tunnel-state.js';
import type { WorkerTunnels } from '../workers/primary-worker-tunnels.js';
import type { AuthDialogue } from './auth-dialogue.js';
import { dialogueRequest } from './dialogue-request.js';
import { type DtlsPlan, dtlsAnswer, planDtls } from './dtls-plan.js';
import { connectParams, type GatewayPolicy, tunnelTimers } from './gateway-policy.js';
import { HandshakeAdmission } from './handshake-admission.js';
import { LogLimiter } from './log-limiter.js';
import type { AddressAllocator, BanList, SessionSite } from './ports.js';
import { type RequestRoutes, routeRequests } from './request-router.js';
import { SessionLogger } from './session-logger.js';

export interface GatewayServerOptions {
  tls: {
    cert: Buffer;
    key: Buffer;
    clientCa?: Buffer[];
    /** Highest TLS version offered (default TLS 1.3); the lowest is always TLS 1.2. */
    maxVersion?: 'TLSv1.2' | 'TLSv1.3';
    /**
     * Who protects tunnel records after CONNECT: `outpost` (default) takes the connection over
     * from OpenSSL (gateway/tls), `openssl` leaves every connection on Node's TLSSocket.
     */
    recordLayer?: RecordLayerKind;
    /** TLS 1.3 session tickets per full handshake (default: none, gateway-tls-context.ts). */
    tls13Tickets?: number;
  };
  dialogue: AuthDialogue;
  sessions: SessionTable;
  /** The policy (pool, DNS, routes, timers) of an identity's group; see policy-selector.ts. */
  policyFor: (identity: Identity) => { policy: GatewayPolicy; addresses: AddressAllocator };
  /**
   * Where tunnels run: in this process over `device` (the TUN), or, with `workers`, in tunnel
   * worker processes (gateway.workers > 1), each session on the worker its addresses belong to.
   */
  dataPlane: { device: PacketDevice } | { workers: WorkerTunnels };
  bans: BanList;
  /** The TUN's MTU: the largest tunnel MTU handed out. */
  tunMtu: number;
  /**
   * The DTLS data channel (absent: TLS only). Tunnels of this process use `service` (its UDP
   * socket); a tunnel in worker i is told `workerPort(i)`, where that worker listens.
   */
  dtls?: { service?: DtlsService; workerPort?: (worker: number) => number };
  counters: TunnelCounters;
  /** Called once per ended session, after the access log line (metrics totals). */
  sessionEnded?: (session: Session) => void;
  /**
   * PROXY protocol v2 before TLS (`gateway.proxyProtocol`): the peers in `trusted` must send a
   * header and nobody else may; the header's source is the client from then on. Absent: off.
   */
  proxyProtocol?: { trusted: TrustedProxies } | undefined;
  /** A site's shared sessions (state.backend: postgres); absent on a node of its own. */
  site?: SessionSite;
  /** Counts a connection closed unstarted in a reconnect storm (too many waiting, or too long). */
  shed?: () => void;
  /** Counts a connection closed because its TLS handshake did not finish within the time limit. */
  handshakeTimedOut?: () => void;
  /** Counts a connection refused at its PROXY header (the reason is from a fixed set). */
  proxyRefused?: (reason: ProxyRefusal) => void;
  logger: Logger;
}

/** What onConnect settled for a tunnel, for the function that starts it. */
interface TunnelStart {
  session: Session;
  mtu: number;
  policy: GatewayPolicy;
  /** This tunnel's DPD and idle timeout: the policy's, or its mobile ones for a phone. */
  timers: TunnelTimers;
  addresses: AddressAllocator;
  log: TunnelLog;
  /** The DTLS channel offered in the CONNECT answer, if any. */
  dtls: DtlsPlan | undefined;
}

const maxBodyBytes = 64 * 1024;
const maxQueuedBytes = 4 * 1024 * 1024;
const handshakeTimeoutMs = 10_000;
/** How long a connection may take to send its first request head (the HTTP server's headersTimeout). */
const headersTimeoutMs = 10_000;
/** How long a connection may stay idle between requests (the HTTP server's keepAliveTimeout). */
const keepAliveTimeoutMs = 30_000;
const requestWaits = { firstMs: headersTimeoutMs, keepAliveMs: keepAliveTimeoutMs, maxBodyBytes };
/**
 * Handshake admission (handshake-admission.ts): 256 handshakes in progress are about half a second
 * of TLS work on one core (a server handshake with a client certificate costs Node 1-2 ms), far
 * inside the handshake time limit; the loop counts as busy at 90% utilization or a timer 100 ms
 * late. Connections beyond wait at most 30 s, 16,384 of them (a storm of a failed node's clients).
 */
const admissionLimits = {
  maxOpening: 256,
  maxLagMs: 100,
  busyUtilization: 0.9,
  intervalMs: 50,
  maxWaiting: 16_384,
  maxWaitMs: 30_000,
} as const;
/** A balancer writes the PROXY header at connect; a direct client its ClientHello at once. */
const proxyHeaderTimeoutMs = 5000;
/** Sealed-record chunks: a full 16 KiB record fits several times; free ones kept for reuse. */
const chunkBytes = 64 * 1024;
const freeChunks = 256;

/**
 * The gateway's TLS listener. TCP connections are accepted here and TLS runs in a TLSSocket per
 * connection (gateway/tls/tls-connection.ts). Its cleartext requests are read here while they are the
 * strict, whole auth POSTs and CONNECT openconnect sends (request-router.ts), else by Node's HTTP
 * server. `CONNECT /CSCOSSLC/tunnel` is answered here and the connection then carries CSTP: on
 * Outpost's record layer when the takeover succeeds, else on the TLSSocket.
 * Limits: TLS 1.2+, handshake and header time limits (slowloris), body size, queued bytes.
 */
export class GatewayServer {
  readonly server: Server;
  private readonly http: HttpServer;
  private readonly local: LocalTunnels | undefined;
  private readonly workers: WorkerTunnels | undefined;
  /**
   * Sockets still in the TLS handshake or the HTTP dialogue. Keyed by the raw socket, not the
   * TlsConnection: a tunnel's socket lives on after the takeover, and must not keep the
   * TlsConnection (with its TLSSocket and HTTP state) reachable.
   */
  private readonly handshaking = new Set<Socket>();
  private context: SecureContext;
  /** The CA certificates `context` verifies client certificates against (gateway-tls-context.ts). */
  private clientCaDer: readonly Buffer[] | undefined;
  private recordLayer: RecordLayerSetup | undefined;
  /** Connections accepted whose TLS handshake has not finished (PROXY header included), or waiting. */
  private readonly admission: HandshakeAdmission;
  /** One log line per refused source and reason a minute: a scanner must not flood the log. */
  private readonly proxyRefusalLog = new LogLimiter();
  /** Handshake time-outs: counted each, logged once a minute (a storm or a slowloris makes many). */
  private readonly handshakeTimeoutLog = new LogLimiter();
  private handshakeTimeoutsSinceLog = 0;

  constructor(private readonly o: GatewayServerOptions) {
    this.context = this.secureContext(o.tls.cert, o.tls.key);
    this.admission = new HandshakeAdmission({ ...admissionLimits, onShed: o.shed });
    this.recordLayer = this.recordLayerSetup();
    this.http = createHttpServer({
      headersTimeout: headersTimeoutMs,
      requestTimeout: 15_000,
      keepAliveTimeout: keepAliveTimeoutMs,
      maxHeaderSize: 16 * 1024,
      connectionsCheckingInterval: 1000,
    });
    this.http.on('request', (req, res) => void this.onRequest(req, res));
    this.http.on('connect', (req, socket, head) => this.onConnect(req, socket, head));
    // This HTTP server never listens (connections are handed to it), but its header and request
    // time limits (slowloris) are enforced by a checker Node starts on 'listening'.
    this.http.emit('listening');
    this.server = createTcpServer((socket) => this.onTcp(socket));
    if ('device' in o.dataPlane) this.local = new LocalTunnels(o.dataPlane.device, o.counters, o.logger);
    else this.workers = o.dataPlane.workers;
    o.sessions.onClosed = (session, reason) => this.onSessionClosed(session, reason);
  }

  /**
   * Swaps the server certificate for new handshakes; established tunnels keep their TLS session
   * (ocserv needs a reload for this; here a renewed certificate drops nobody). Throws, keeping the
   * old certificate, when the new pair does not load.
   */
  reloadTls(cert: Buffer, key: Buffer): void {
    this.context = this.secureContext(cert, key);
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
    const { clientCa: _previous, ...rest } = this.o.tls;
    this.o.tls = { ...rest, ...(clientCa ? { clientCa } : {}) };
    // Each new connection reads requestCert and the context from here.
    this.reloadTls(rest.cert, rest.key);
  }

  /**
   * TLS versions, record layer and TLS 1.3 tickets for connections accepted from now on; open
   * tunnels keep theirs.
   */
  setTlsPolicy(policy: {
    maxVersion: 'TLSv1.2' | 'TLSv1.3';
    recordLayer: RecordLayerKind;
    tls13Tickets: number;
  }): void {
    const before = this.o.tls.recordLayer ?? 'outpost';
    this.o.tls = { ...this.o.tls, ...policy };
    this.reloadTls(this.o.tls.cert, this.o.tls.key);
    if (policy.recordLayer !== before) this.recordLayer = this.recordLayerSetup();
  }

  /**
   * PROXY protocol for connections accepted from now on (undefined: off); open connections keep
   * the client address they were admitted with.
   */
  setProxyProtocol(proxyProtocol: GatewayServerOptions['proxyProtocol']): void {
    this.o.proxyProtocol = proxyProtocol;
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
      // A node that takes over from a failed one gets all of its clients at once: a backlog of
      // 4096 (the kernel caps it at net.core.somaxconn) instead of Node's 511 keeps their SYNs.
      this.server.listen({ port, host, backlog: 4096 }, () => {
        this.server.off('error', reject);
        this.admission.start();
        resolve();
      });
    });
  }

  /**
   * `sessions drain on --migrate`: stops accepting (a balancer's connection attempt fails, and
   * HAProxy's `option redispatch` sends it to another node at once) and ends every tunnel
   * without a TERMINATE frame, so each client reconnects with its cookie (reconnectElsewhere).
   * The sessions stay valid for the cookie timeout. Returns how many tunnels were ended.
   */
  migrateTunnels(): number {
    if (this.server.listening) this.server.close();
    let ended = 0;
    for (const session of this.o.sessions.list()) {
      if (session.state !== 'connected' || !session.disconnect) continue;
      session.disconnect(reconnectElsewhere);
      ended++;
    }
    return ended;
  }

  /** Stops accepting, tells every client, and waits for the listener to close. */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.workers?.shutdown();
    for (const session of this.o.sessions.list()) this.o.sessions.close(session, 'server shutdown');
    for (const socket of this.handshaking) socket.destroy();
    this.admission.stop();
    this.http.closeAllConnections();
    this.http.close(() => undefined); // stops the time-limit checker
    await closing;
  }

  private secureContext(cert: Buffer, key: Buffer): SecureContext {
    const { clientCa, maxVersion, tls13Tickets } = this.o.tls;
    const context = gatewayTlsContext({
      cert,
      key,
      ...(clientCa ? { clientCa } : {}),
      ...(maxVersion ? { maxVersion } : {}),
      ...(tls13Tickets !== undefined ? { tls13Tickets } : {}),
    });
    // Set with the context it describes (the callers assign the context at once).
    this.clientCaDer = clientCa ? clientCaCertificates(clientCa) : undefined;
    return context;
  }

  /** The takeover's crypto (Node's OpenSSL through koffi); undefined keeps tunnels on OpenSSL. */
  private recordLayerSetup(): RecordLayerSetup | undefined {
    if ((this.o.tls.recordLayer ?? 'outpost') === 'openssl') return undefined;
    const evp = loadEvp();
    if (!evp) {
      this.o.logger.warn('koffi cannot reach OpenSSL: tunnels stay on the OpenSSL record layer');
      return undefined;
    }
    return {
      evp,
      pool: new ChunkPool(evp, chunkBytes, freeChunks),
      onTlsFailure: (kind) => this.o.counters.tlsFailure?.(kind),
    };
  }

  /**
   * Its own function so that the listener's closure context holds the socket only: a listener
   * created in onTcp would share onTcp's context, and with it the TlsConnection, for as long as
   * the socket lives (tunnel included).
   */
  private track(raw: Socket): void {
    this.handshaking.add(raw);
    raw.once('close', () => this.handshaking.delete(raw));
  }

  private onTcp(raw: Socket): void {
    this.track(raw);
    // A failover storm (every client of a failed node at once) waits its turn while the loop is busy.
    this.admission.accept(raw, this.begin);
  }

  /** A connection's turn: its PROXY header (behind a balancer), then its TLS handshake. */
  private readonly begin = (raw: Socket): void => {
    const proxy = this.o.proxyProtocol;
    if (!proxy) return this.startTls(raw, undefined);
    admitConnection(raw, { trusted: proxy.trusted, timeoutMs: proxyHeaderTimeoutMs }).then((admission) => {
      if (!admission.admitted) return this.refuseProxied(raw, admission.reason, admission.detail);
      // LOCAL (the balancer's own check) speaks for the balancer: the TCP peer is the client.
      const client = admission.local
        ? undefined
        : { address: admission.remoteAddress, port: admission.remotePort };
      this.startTls(raw, client);
    });
  };

  /** Counted by reason; logged once a minute per source and reason (gateway/control/log-limiter). */
  private refuseProxied(raw: Socket, reason: ProxyRefusal, detail: string): void {
    raw.destroy();
    this.o.proxyRefused?.(reason);
    const peer = raw.remoteAddress ?? 'unknown';
    // A balancer's plain TCP check connects and closes: counted, not worth a line.
    if (reason === 'closed' || !this.proxyRefusalLog.allow(`${reason} ${sourceAddressKey(peer)}`)) return;
    this.o.logger.warn(
      { peer, reason, detail },
      'connection refused at the PROXY header (logged once a minute per source and reason)',
    );
  }

  private startTls(raw: Socket, client: { address: string; port: number } | undefined): void {
    if (raw.destroyed) return;
    const connection = new TlsConnection(raw, {
      secureContext: this.context,
      requestCert: (this.o.tls.clientCa?.length ?? 0) > 0,
      ...(this.clientCaDer ? { clientCaDer: this.clientCaDer } : {}),
      recordLayer: this.recordLayer,
      maxQueuedBytes,
      ...(client ? { client } : {}),
    });
    const { tls } = connection;
    const timer = setTimeout(() => this.handshakeTimedOut(raw, connection), handshakeTimeoutMs);
    tls.once('secure', () => {
      clearTimeout(timer);
      this.admission.opened(raw);
      routeRequests(tls, requestWaits, this.requestRoutes(tls));
    });
    tls.on('error', (err) => {
      this.o.logger.debug({ remote: connection.remoteAddress, reason: err.message }, 'TLS connection failed');
      raw.destroy();
    });
  }

  /**
   * The auth POSTs and the CONNECT of a login, and a resumed session's CONNECT, are read here
   * (gateway/cstp/auth-post.ts, connect-head.ts; request-router.ts); at any other request the
   * HTTP server takes the connection, handed what was read first: emitted to its 'data' listener
   * at once, not unshift()ed, because the server consumes the TLSSocket's handle directly and
   * would parse the next record before an unshifted chunk.
   */
  private requestRoutes(tls: TLSSocket): RequestRoutes {
    return {
      tunnel: (headers, head) => this.connectTunnel(tls, '/CSCOSSLC/tunnel', headers, head),
      post: (request) =>
        this.o.dialogue.handle(dialogueRequest(tls, request.target, request.headers, request.body)),
      http: (read) => {
        this.http.emit('connection', tls);
        tls.emit('data', read);
      },
      // What the HTTP server answers a connection that sends no head within its headersTimeout.
      idle: () => void tls.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'),
    };
  }

  /** Closes a connection whose handshake ran out of time: counted, and one log line a minute. */
  private handshakeTimedOut(raw: Socket, connection: TlsConnection): void {
    raw.destroy();
    this.o.handshakeTimedOut?.();
    this.handshakeTimeoutsSinceLog++;
    if (!this.handshakeTimeoutLog.allow('handshake-timeout')) return;
    this.o.logger.warn(
      {
        remote: connection.remoteAddress,
        timedOut: this.handshakeTimeoutsSinceLog,
        limitMs: handshakeTimeoutMs,
      },
      'TLS handshake not finished in time: connection closed (one line a minute; timedOut counts since the last)',
    );
    this.handshakeTimeoutsSinceLog = 0;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' && req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, POST' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch {
      this.o.bans.penalize(connectionOf(req.socket as TLSSocket)?.remoteAddress ?? 'unknown', 'protocol');
      res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('request too large\n');
      return;
    }
    const request = dialogueRequest(req.socket as TLSSocket, req.url ?? '/', req.headers, body);
    const reply = await this.o.dialogue.handle(request);
    res.writeHead(reply.status, reply.headers).end(reply.body);
  }

  private onConnect(req: IncomingMessage, stream: Duplex, head: Buffer): void {
    this.connectTunnel(stream as TLSSocket, req.url, req.headers, head);
  }

  /** `CONNECT target` with these headers (as req.headers), from the HTTP server or read directly. */
  private connectTunnel(
    socket: TLSSocket,
    target: string | undefined,
    headers: HeaderMap,
    head: Buffer,
  ): void {
    const connection = connectionOf(socket);
    const remoteAddress = connection?.remoteAddress ?? 'unknown';
    const refuse = (status: string, reason: string) => {
      this.o.logger.info({ remote: remoteAddress, reason }, 'CONNECT refused');
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (!connection) return refuse('500 Internal Server Error', 'connection not found');
    if (target !== '/CSCOSSLC/tunnel') return refuse('404 Not Found', `unknown CONNECT target ${target}`);
    let request: ConnectRequest | undefined;
    let session: Session;
    try {
      request = parseConnectRequest(headers);
      const found = this.o.sessions.find(request.cookie);
      // A cookie this node does not know may be another node's (no error built on that path:
      // a failover storm takes it for every client).
      if (!found && this.o.site && request.cookie) {
        return this.resumeFromSite(this.o.site, connection, request, head, refuse);
      }
      session = found ?? this.o.sessions.byCookieValue(request.cookie);
    } catch (e) {
      const unauthorized = isOutpostError(e) && e.code === ErrorCodes.unauthorized;
      this.o.bans.penalize(remoteAddress, 'auth');
      return refuse(unauthorized ? '401 Unauthorized' : '400 Bad Request', (e as Error).message);
    }
    this.connectSession(connection, request, session, head, refuse);
  }

  /** A cookie this node does not know: another node of the site may have made or carried it. */
  private resumeFromSite(
    site: SessionSite,
    connection: TlsConnection,
    request: ConnectRequest,
    head: Buffer,
    refuse: (status: string, reason: string) => void,
  ): void {
    const remoteAddress = connection.remoteAddress ?? 'unknown';
    site.resume(request.cookie!, remoteAddress).then(
      (session) => {
        if (session) return this.connectSession(connection, request, session, head, refuse);
        this.o.bans.penalize(remoteAddress, 'auth');
        refuse('401 Unauthorized', 'unknown, expired or revoked cookie');
      },
      (e: unknown) => {
        const busy = isOutpostError(e) && e.code === ErrorCodes.busy;
        if (!busy) this.o.logger.warn({ err: e }, 'cannot resume a session from the site state');
        refuse('503 Service Unavailable', busy ? (e as Error).message : 'site state unavailable');
      },
    );
  }

  private connectSession(
    connection: TlsConnection,
    request: ConnectRequest,
    session: Session,
    head: Buffer,
    refuse: (status: string, reason: string) => void,
  ): void {
    const remoteAddress = connection.remoteAddress ?? 'unknown';
    this.local?.terminate(session.id, 'replaced by a new connection');
    const { policy, addresses } = this.o.policyFor(session.identity);
    // A session resumed from the site keeps its addresses (openconnect insists on them).
    const assigned = session.foreignBlock
      ? { ipv4: session.ipv4!, ...(session.ipv6 ? { ipv6: session.ipv6 } : {}), worker: 0 }
      : addresses.allocate(session.id, { ipv4: session.ipv4, ipv6: session.ipv6 });
    const worker = assigned.worker ?? 0;
    if (this.workers && !this.workers.available(worker)) {
      if (session.state !== 'connected') addresses.release(session.id, policy.timers.cookie * 1000);
      return refuse('503 Service Unavailable', `gateway worker ${worker} is not running`);
    }
    session.ipv4 = assigned.ipv4;
    if (assigned.ipv6) session.ipv6 = assigned.ipv6;
    const dtls = this.dtlsPlan(request, connection.tls, worker, remoteAddress);
    const mtu = negotiateMtu({
      baseMtu: request.baseMtu,
      clientMtu: request.mtu,
      configuredMtu: this.o.tunMtu,
      transport: connection.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4',
      ipv6: session.ipv6 !== undefined,
      datagramOverhead: dtls?.overhead ?? 0,
    });
    let response: Buffer;
    try {
      const params = connectParams(policy, session, request, mtu, Date.now());
      // The channel's DPD is the tunnel's (mobile clients get the longer one), as in ocserv.
      if (dtls) params.dtls = dtlsAnswer(dtls, { ...policy.timers, dpd: params.timers.dpd }, mtu.mtu);
      response = Buffer.from(buildConnectResponse(params));
    } catch (e) {
      this.o.logger.error({ err: e }, 'cannot build the CONNECT reply');
      return refuse('500 Internal Server Error', 'bad gateway policy');
    }
    const log = new SessionLogger(this.o.logger, {
      session: session.id,
      user: session.identity.username,
      remote: remoteAddress,
      ...(request.isMobile ? { mobile: true } : {}),
    });
    // ocserv logs and ignores client MTU values outside its bounds (worker-vpn.c connect_handler).
    if (mtu.ignored) log.info({ ignored: mtu.ignored }, 'client MTU values ignored');
    this.handshaking.delete(connection.raw);
    const timers = tunnelTimers(policy.timers, request);
    const tunnel = { session, mtu: mtu.mtu, policy, timers, addresses, log, dtls };
    if (this.workers) this.startRemote(connection, response, head, tunnel, worker, refuse);
    else this.startLocal(connection, response, head, tunnel);
  }

  private startLocal(connection: TlsConnection, response: Buffer, head: Buffer, t: TunnelStart): void {
    connection.startTunnel(response, head).then(
      ({ transport, notTakenOver }) => {
        if (notTakenOver) t.log.debug({ reason: notTakenOver }, 'tunnel stays on the OpenSSL record layer');
        if (t.session.state === 'closed') return void transport.end();
        this.openLocal(t, transport);
      },
      (e) => t.log.warn({ reason: (e as Error).message }, 'tunnel not started'),
    );
  }

  /**
   * The tunnel in this process. Made in a function of its own, so that the one closure an idle
   * tunnel keeps for its end holds only what the end needs (not startLocal's context, nor the
   * TunnelStart).
   */
  private openLocal(t: TunnelStart, transport: TunnelTransport): void {
    const { session, policy, addresses, log } = t;
    let forgetDtls: (() => void) | undefined;
    const tunnel = this.local!.open({
      transport,
      session,
      mtu: t.mtu,
      timers: t.timers,
      logger: log,
      onClose: (reason) => {
        forgetDtls?.();
        this.tunnelClosed(session, reason, policy, addresses);
      },
    });
    const service = this.o.dtls?.service;
    if (t.dtls && service && !tunnel.closed) {
      forgetDtls = service.register({
        id: t.dtls.id,
        params: t.dtls.params,
        dataMtu: t.mtu,
        dpd: t.timers.dpd,
        attach: (datagram) => tunnel.attachDatagram(datagram),
        fallback: transport,
      });
    }
    this.connected(session, t.mtu, transport.kind, transport.protocol, log);
  }

  /** Hands the connection to tunnel worker `worker` (gateway.workers > 1). */
  private startRemote(
    connection: TlsConnection,
    response: Buffer,
    head: Buffer,
    t: TunnelStart,
    worker: number,
    refuse: (status: string, reason: string) => void,
  ): void {
    const workers = this.workers!;
    const { session, log } = t;
    connection.handOff(response, head).then(
      (taken) => {
        if (session.state === 'closed') return void taken.socket.destroy();
        const suite = `${taken.keys.suite.version} ${taken.keys.suite.name}`;
        session.worker = worker;
        // Connected first: a worker that is gone by now ends the tunnel at once (onClose).
        this.connected(session, t.mtu, 'outpost', suite, log, worker);
        const onClose = this.closer(session, t.policy, t.addresses);
        workers.open(worker, taken, {
          session,
          mtu: t.mtu,
          timers: t.timers,
          onClose,
          ...(t.dtls ? { dtls: t.dtls } : {}),
        });
      },
      (e) => {
        if (e instanceof TakeoverRefusedError) {
          this.handshaking.add(connection.raw);
          return refuse('501 Not Implemented', `tunnel workers need an AEAD cipher suite (${e.message})`);
        }
        log.warn({ reason: (e as Error).message }, 'tunnel not started');
      },
    );
  }

  /** The DTLS channel to offer this CONNECT, if DTLS is on and the client asked for it. */
  private dtlsPlan(
    request: ConnectRequest,
    socket: TLSSocket,
    worker: number,
    remote: string,
  ): DtlsPlan | undefined {
    const d = this.o.dtls;
    const port = this.workers ? d?.workerPort?.(worker) : d?.service?.port;
    if (port === undefined || !request.dtls) return undefined;
    const { plan, reason } = planDtls(request, socket, port);
    if (!plan) this.o.logger.debug({ remote, reason }, 'no DTLS offered');
    return plan;
  }

  /**
   * The end of a session's tunnel, made in a function of its own: a closure made in onConnect
   * would keep onConnect's whole context (the TLSSocket, the TlsConnection) for the tunnel's life.
   */
  private closer(
    session: Session,
    policy: GatewayPolicy,
    addresses: AddressAllocator,
  ): (reason: string) => void {
    return (reason) => this.tunnelClosed(session, reason, policy, addresses);
  }

  private connected(
    session: Session,
    mtu: number,
    records: string,
    tls: string,
    log: TunnelLog,
    worker?: number,
  ): void {
    this.o.sessions.markConnected(session);
    this.o.site?.connected(session);
    log.info(
      {
        ipv4: session.ipv4,
        ipv6: session.ipv6,
        mtu,
        records,
        tls,
        ...(worker === undefined ? {} : { worker }),
      },
      'tunnel connected',
    );
  }

  /** A tunnel ended: a logout ends the session, anything else keeps it for a reconnect. */
  private tunnelClosed(
    session: Session,
    reason: string,
    policy: GatewayPolicy,
    addresses: AddressAllocator,
  ): void {
    if (reason === clientLogout) this.o.sessions.close(session, reason);
    else if (session.state === 'connected') {
      this.o.sessions.markDisconnected(session);
      addresses.release(session.id, policy.timers.cookie * 1000);
      this.o.site?.disconnected(session);
    }
  }

  /** Per-session access log line (ocserv prints one too) and the address goes back to the pool. */
  private onSessionClosed(session: Session, reason: string): void {
    this.o.policyFor(session.identity).addresses.release(session.id, 0);
    this.o.site?.closed(session, reason);
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
