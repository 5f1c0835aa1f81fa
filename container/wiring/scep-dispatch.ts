import type { Worker } from 'node:cluster';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseListenAddress } from '../config/listen-address.js';
import { ConnectionBalancer } from './connection-balancer.js';

/** Primary → worker: a TCP connection to serve (the socket rides along as the message's handle). */
export const scepConnectionMessage = 'outpost:scep-connection';
/** Worker → primary: one connection it was handed has closed. */
export const scepClosedMessage = 'outpost:scep-connection-closed';
/** Worker → primary: its HTTP server is ready for connections. */
export const scepReadyMessage = 'outpost:scep-ready';

/**
 * The SCEP listening socket of a worker cluster, held by the primary: it accepts each connection
 * without reading from it (pauseOnConnect) and hands it to the worker with the fewest connections
 * open (connection-balancer.ts), which serves it on an HTTP server that never listens itself.
 * Workers report each close back. Replaces node:cluster's shared port, whose round-robin left
 * keep-alive connections split 2/14 over two busy workers.
 */
export class ScepDispatch {
  private readonly balancer = new ConnectionBalancer<Worker>();
  private server: Server | undefined;
  private address: string | undefined;

  constructor(private readonly logger: Logger) {}

  /** From now on `worker` is handed new connections. */
  join(worker: Worker): void {
    this.balancer.join(worker);
  }

  /** `worker` is handed no more connections (it is stopping, or died). */
  leave(worker: Worker): void {
    this.balancer.leave(worker);
  }

  /** A message from `worker`: counts its closed connections. */
  receive(worker: Worker, message: unknown): void {
    if ((message as { type?: unknown } | null)?.type === scepClosedMessage) this.balancer.closed(worker);
  }

  listening(): boolean {
    return this.server?.listening === true;
  }

  /** Open connections per worker handed them, in joining order. */
  counts(): number[] {
    return this.balancer.counts();
  }

  /**
   * Listens on `listen` (host:port). Already listening there: nothing to do. Elsewhere: the new
   * address is bound first (an error leaves the old one serving), then the old one closes.
   */
  async listen(listen: string): Promise<void> {
    if (this.server && this.address === listen) return;
    const where = parseListenAddress(listen);
    if (!where)
      throw new OutpostError(ErrorCodes.config, 'the SCEP listen address is not host:port', {
        detail: listen,
      });
    const server = createServer({ pauseOnConnect: true }, (socket) => this.dispatch(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: where.host, port: where.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After start, an accept error (EMFILE…) is logged; it must not end the appliance.
    server.on('error', (err) => this.logger.error({ err }, 'SCEP listener error'));
    const previous = this.server;
    this.server = server;
    this.address = listen;
    if (previous) closeServer(previous);
  }

  /** Stops accepting; connections already handed over stay with their workers. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.address = undefined;
    if (server) closeServer(server);
  }

  private dispatch(socket: Socket): void {
    // The socket is paused and only passes through: an error here (a reset before the hand-over)
    // must not be an unhandled 'error' event in the primary.
    socket.on('error', () => undefined);
    const worker = this.balancer.assign();
    if (worker === undefined) {
      socket.destroy();
      return;
    }
    try {
      // keepOpen false (the default): the primary's copy is closed once the worker has it.
      worker.send({ type: scepConnectionMessage }, socket, (err: Error | null) => {
        if (err) this.lost(worker, socket);
      });
    } catch {
      this.lost(worker, socket);
    }
  }

  /** The worker never got the connection (its channel closed meanwhile). */
  private lost(worker: Worker, socket: Socket): void {
    this.balancer.closed(worker);
    socket.destroy();
  }
}

/**
 * Stops accepting at once. Not waiting for close's callback: Node tracks the sockets sent to
 * workers and calls it only once the workers have closed them all, which keep-alive clients
 * delay until the workers are stopped (after this).
 */
function closeServer(server: Server): void {
  server.close(() => undefined);
}
