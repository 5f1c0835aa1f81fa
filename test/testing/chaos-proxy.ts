import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ChaosProxy {
  port: number;
  /** Connections cut so far. */
  resets: number;
  /** Sends a TCP RST on every open connection, both sides (the link sees a reset socket). */
  resetAll(): void;
  /**
   * Holds every byte the client sends (on open and new connections) until `releaseUpstream`; the
   * other direction keeps flowing. A connection that closes meanwhile loses what was held, as a
   * client that dies before its words leave the host would.
   */
  holdUpstream(): void;
  /** Lets held bytes go on, in order. */
  releaseUpstream(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy for fault injection between the appliance and the cloud: every chunk is held for a
 * random 0..maxDelayMs (order kept per direction, so TLS survives), and `resetAll` cuts every
 * connection with an RST. TLS stays end to end: the proxy never sees a message, only bytes.
 */
export async function startChaosProxy(
  target: () => number,
  options: { maxDelayMs: number; random?: () => number },
): Promise<ChaosProxy> {
  const random = options.random ?? Math.random;
  const open = new Set<Socket>();
  const state = { resets: 0, holding: false };
  let released: Array<() => void> = [];
  const upstreamOpen = () =>
    state.holding ? new Promise<void>((resolve) => released.push(resolve)) : Promise.resolve();

  const pipeDelayed = (from: Socket, to: Socket, gate: () => Promise<void>) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = Math.floor(random() * options.maxDelayMs);
      chain = chain.then(gate).then(
        () =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              if (!to.destroyed) to.write(chunk);
              resolve();
            }, delay);
          }),
      );
    });
    from.on('end', () => void chain.then(() => to.end()));
  };

  const server: Server = createServer((client) => {
    const upstream = connect(target(), '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    pipeDelayed(client, upstream, upstreamOpen);
    pipeDelayed(upstream, client, () => Promise.resolve());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get resets() {
      return state.resets;
    },
    resetAll() {
      for (const socket of [...open]) socket.resetAndDestroy();
      state.resets++;
    },
    holdUpstream() {
      state.holding = true;
    },
    releaseUpstream() {
      state.holding = false;
      const waiting = released;
      released = [];
      for (const go of waiting) go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
