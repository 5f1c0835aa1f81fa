import type { Duplex } from 'node:stream';
import { type HeaderMap, readConnectHead } from '../cstp/index.js';

export interface FirstRequestRoutes {
  /** The first request is `CONNECT /CSCOSSLC/tunnel`: its headers (as req.headers gives them) and the bytes after its head. */
  tunnel(headers: HeaderMap, head: Buffer): void;
  /**
   * Anything else (auth POSTs, a CONNECT split over several records, a head the reader declines):
   * the HTTP server must take the connection and be given `read` first.
   */
  http(read: Buffer): void;
  /** Nothing arrived within the wait (the HTTP server's headersTimeout would have ended it). */
  idle(): void;
}

/**
 * Waits for a connection's first cleartext chunk and routes it: a resumed session's only request
 * (the CONNECT) is answered without Node's HTTP server, everything else goes to it as before.
 */
export function routeFirstRequest(socket: Duplex, waitMs: number, routes: FirstRequestRoutes): void {
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer) => {
    stop();
    const result = readConnectHead(chunk);
    if (result.kind !== 'head') return routes.http(chunk);
    // As Node's server does before its 'connect' event: later bytes wait in the socket's buffer
    // (read by whoever takes the tunnel), and a later 'data' listener starts the flow again.
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    routes.tunnel(result.headers, chunk.subarray(result.headLength));
  };
  const timer = setTimeout(() => {
    stop();
    routes.idle();
  }, waitMs);
  socket.on('data', onData);
  socket.on('close', stop);
}
