import type { Server } from 'node:http';
import { Socket } from 'node:net';
import { scepClosedMessage, scepConnectionMessage } from './scep-dispatch.js';

const drainPollMs = 100;

export interface HandedConnections {
  /** Connections being served now. */
  open(): number;
  /** Resolves once every handed connection has closed; idle keep-alive ones are closed meanwhile. */
  drained(): Promise<void>;
}

/**
 * Worker side of scep-dispatch.ts: serves on `server` (which never listens) each connection the
 * primary hands over, and reports each close so the primary's counts stay true.
 */
export function serveHandedConnections(server: Server): HandedConnections {
  // Node starts tracking a server's connections (requestTimeout and headersTimeout, and what
  // closeIdleConnections closes) on 'listening', which a server that never listens never gets.
  server.emit('listening');
  const open = new Set<Socket>();
  const report = () => process.send?.({ type: scepClosedMessage });
  process.on('message', (message: { type?: unknown } | null, handle: unknown) => {
    if (message?.type !== scepConnectionMessage) return;
    // Closed on its way here: Node delivers the message without the socket.
    if (!(handle instanceof Socket)) return report();
    open.add(handle);
    handle.once('close', () => {
      open.delete(handle);
      report();
    });
    server.emit('connection', handle);
  });
  return {
    open: () => open.size,
    drained: () =>
      new Promise((resolve) => {
        const check = () => {
          // A request running when the server started closing ends with its response; the
          // connection then turns idle and is closed here (fastify answers later requests 503).
          server.closeIdleConnections();
          if (open.size > 0) return false;
          clearInterval(timer);
          resolve();
          return true;
        };
        const timer = setInterval(check, drainPollMs);
        check();
      }),
  };
}
