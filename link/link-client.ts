import type { Logger } from 'pino';
import WebSocket from 'ws';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import type { LinkSocket } from './link-session.js';
import { LinkLimits } from './schema/limits.js';
import { hostPort } from './transport/cloud-url.js';
import { type CloudTlsOptions, tlsCredentials, tunnelledConnection } from './transport/tls-connect.js';

/** What happens on one open connection; created per connection by the owner of the client. */
export interface ConnectionHandler {
  receive(data: Buffer): void;
  closed(): void;
}

export interface LinkClientOptions {
  url: URL;
  /** Read at every connect, so a renewed certificate is used by the next connection. */
  tls: () => Omit<CloudTlsOptions, 'timeoutMs'>;
  logger: Logger;
  backoff: BackoffPolicy;
  random?: () => number;
  /** A ping goes out this often; a connection whose previous ping got no pong by then is dead. */
  pingIntervalMs: number;
  /** TCP + proxy + TLS + HTTP upgrade together. */
  handshakeTimeoutMs: number;
  onOpen(socket: LinkSocket): ConnectionHandler;
}

/**
 * Keeps one outbound WebSocket to the cloud: mutual TLS with the pinned cloud CA, optional CONNECT
 * proxy, frames bounded by LinkLimits.maxMessageBytes (ws closes with 1009 beyond), ping/pong
 * liveness, and reconnects with capped exponential backoff and full jitter. It never throws into
 * its caller and never stops trying until stop(): the roles run on whether the link is up or not.
 */
export class LinkClient {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private pingSentAt = 0;
  private lastError = '';
  latencyMs: number | null = null;
  connected = false;
  connects = 0;

  constructor(private readonly options: LinkClientOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  /** The connection is established (welcomed): the next failure starts the backoff from the beginning. */
  resetBackoff(): void {
    this.attempt = 0;
    this.lastError = '';
  }

  /** Drops the current connection (it reconnects): e.g. after an unusable welcome. */
  drop(reason: string): void {
    this.ws?.close(1000, reason.slice(0, 100));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const killer = setTimeout(() => ws.terminate(), 2_000);
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1001, 'appliance shutting down');
    await closed;
    clearTimeout(killer);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { url, handshakeTimeoutMs } = this.options;
    let ws: WebSocket;
    try {
      const tls = { ...this.options.tls(), timeoutMs: handshakeTimeoutMs };
      const createConnection = await tunnelledConnection(hostPort(url), tls);
      if (this.stopped) return;
      ws = new WebSocket(url, {
        ...tlsCredentials(tls),
        ...(createConnection ? { createConnection } : {}),
        maxPayload: LinkLimits.maxMessageBytes,
        handshakeTimeout: handshakeTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
      });
    } catch (e) {
      this.failed(e);
      return;
    }
    this.ws = ws;
    let handler: ConnectionHandler | undefined;
    ws.on('open', () => {
      this.connected = true;
      this.connects++;
      this.options.logger.info({ url: url.href, attempt: this.attempt }, 'link connected');
      this.startPings(ws);
      handler = this.options.onOpen({
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
      });
    });
    ws.on('message', (data: Buffer) => {
      handler?.receive(data);
    });
    ws.on('pong', () => {
      this.awaitingPong = false;
      this.latencyMs = Math.round((performance.now() - this.pingSentAt) * 10) / 10;
    });
    ws.on('error', (e) => this.noteError(e));
    ws.on('unexpected-response', (_req, res) => {
      this.noteError(new Error(`HTTP ${res.statusCode} instead of a WebSocket upgrade`));
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      clearInterval(this.pingTimer);
      const wasConnected = this.connected;
      this.connected = false;
      if (this.ws === ws) this.ws = undefined;
      handler?.closed();
      if (wasConnected) {
        this.options.logger.warn({ code, reason: reason.toString().slice(0, 100) }, 'link closed');
      }
      this.scheduleReconnect();
    });
  }

  private startPings(ws: WebSocket): void {
    this.awaitingPong = false;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        // No pong for a whole interval: the path is dead even if TCP has not noticed.
        this.options.logger.warn(
          { intervalMs: this.options.pingIntervalMs },
          'link missed a pong; reconnecting',
        );
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      this.pingSentAt = performance.now();
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }, this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  private failed(e: unknown): void {
    this.noteError(e);
    this.scheduleReconnect();
  }

  /** Each distinct failure is logged once at warn; repeats of it only at debug, so an outage is not a log flood. */
  private noteError(e: unknown): void {
    const text =
      e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim() : String(e);
    const level = text === this.lastError ? 'debug' : 'warn';
    this.lastError = text;
    this.options.logger[level]({ error: text.slice(0, 300) }, 'link connection failed');
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt++, this.options.backoff, this.options.random ?? Math.random);
    this.options.logger.debug({ delayMs: delay, attempt: this.attempt }, 'link reconnect scheduled');
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
