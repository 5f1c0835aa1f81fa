import type { Duplex } from 'node:stream';
import {
  type AuthPostResult,
  buildHttpResponse,
  type HeaderMap,
  type HttpAnswer,
  readAuthPost,
  readConnectHead,
} from '../cstp/index.js';
import { httpDate } from './http-date.js';

/** A whole auth POST read here (gateway/cstp/auth-post.ts). */
export type AuthPost = Extract<AuthPostResult, { kind: 'post' }>;

export interface RequestRoutes {
  /** `CONNECT /CSCOSSLC/tunnel`: its headers (as req.headers gives them) and the bytes after its head. */
  tunnel(headers: HeaderMap, head: Buffer): void;
  /** A whole auth POST: its answer, written here as a keep-alive response. */
  post(request: AuthPost): Promise<HttpAnswer>;
  /**
   * Anything else (GETs, a request split over several records, a request the readers decline):
   * the HTTP server must take the connection and be given `read` first.
   */
  http(read: Buffer): void;
  /** No first request arrived within the wait (the HTTP server's headersTimeout would have ended it). */
  idle(): void;
}

export interface RequestWaits {
  /** For the connection's first request (the HTTP server's headersTimeout: then 408). */
  firstMs: number;
  /** Between requests (the HTTP server's keepAliveTimeout: then the connection is closed). */
  keepAliveMs: number;
  /** The largest auth POST body (the HTTP server's path answers 413 beyond it). */
  maxBodyBytes: number;
}

/**
 * Reads a connection's requests and routes them: the auth POSTs and the CONNECT that follows them,
 * each whole in one cleartext chunk as openconnect sends them, are answered without Node's HTTP
 * server; at the first request that is anything else, the HTTP server takes the connection for
 * good, given what was read. One request at a time: the socket is not read while a POST is being
 * answered (the HTTP server would queue a pipelined one; here there is none, see `pipelined`).
 */
export function routeRequests(socket: Duplex, waits: RequestWaits, routes: RequestRoutes): void {
  waitForRequest(socket, waits, routes, true);
}

function waitForRequest(socket: Duplex, waits: RequestWaits, routes: RequestRoutes, first: boolean): void {
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer) => {
    stop();
    const connect = readConnectHead(chunk);
    if (connect.kind === 'head') {
      // As Node's server does before its 'connect' event: later bytes wait in the socket's buffer
      // (read by whoever takes the tunnel), and a later 'data' listener starts the flow again.
      pauseFlow(socket);
      return routes.tunnel(connect.headers, chunk.subarray(connect.headLength));
    }
    const post = connect.kind === 'declined' ? readAuthPost(chunk, waits) : undefined;
    if (post?.kind !== 'post') return routes.http(chunk);
    pauseFlow(socket);
    routes.post(post).then(
      (answer) => answered(socket, waits, routes, answer),
      // The dialogue answers its own failures; a throw is a bug, and no answer can be trusted.
      () => socket.destroy(),
    );
  };
  const timer = setTimeout(
    () => {
      stop();
      // The HTTP server answers a first head that does not come with 408, and closes a keep-alive
      // connection idle between requests without a word.
      if (first) routes.idle();
      else socket.destroy();
    },
    first ? waits.firstMs : waits.keepAliveMs,
  );
  socket.on('data', onData);
  socket.on('close', stop);
}

function answered(socket: Duplex, waits: RequestWaits, routes: RequestRoutes, answer: HttpAnswer): void {
  if (socket.destroyed || !socket.writable) return;
  let bytes: Buffer;
  try {
    bytes = buildHttpResponse(answer, httpDate(), Math.floor(waits.keepAliveMs / 1000));
  } catch {
    return void socket.destroy();
  }
  socket.write(bytes);
  waitForRequest(socket, waits, routes, false);
}

/** Stops the flow without pause(): a later 'data' listener (ours or a taker's) starts it again. */
function pauseFlow(socket: Duplex): void {
  (socket as { readableFlowing: boolean | null }).readableFlowing = null;
}
