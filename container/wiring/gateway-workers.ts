import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkerTunnels } from '../../gateway/workers/primary-worker-tunnels.js';
import type { ShutdownManager } from '../shutdown.js';
import type { WorkerInit } from './gateway-worker-init.js';

export interface GatewayWorkersOptions {
  count: number;
  /** Worker i's TUN, addresses and routes. */
  init: (worker: number) => WorkerInit;
  tunnels: WorkerTunnels;
  logger: Logger;
  shutdown: ShutdownManager;
}

/** How long a worker may take to open and configure its TUN. */
const startTimeoutMs = 30_000;
const restartDelayMs = 1000;
/** A stopping worker sends DISCONNECT to its clients and gives them a moment (worker main: 2.5 s). */
const stopTimeoutMs = 6000;

/**
 * Forks the gateway's tunnel workers (gateway-worker-main.ts) with an IPC channel that carries
 * Buffers as bytes and TCP sockets as handles, starts each with its `init`, and connects them to
 * WorkerTunnels once they say `ready`. A worker that dies takes its tunnels with it (WorkerTunnels
 * ends them, their clients reconnect with their cookies) and is started again with the same
 * TUN and blocks, so those reconnects find it. Returns how many are running, for readiness.
 */
export async function startGatewayWorkers(o: GatewayWorkersOptions): Promise<{ ready(): number }> {
  const children = new Map<number, ChildProcess>();
  const ready = new Set<number>();
  let stopping = false;

  const spawnWorker = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = fork(join(import.meta.dirname, 'gateway-worker-main.js'), [], {
        serialization: 'advanced',
      });
      children.set(i, child);
      const timer = setTimeout(() => {
        reject(new Error(`gateway worker ${i} did not start within ${startTimeoutMs / 1000} s`));
        child.kill('SIGKILL');
      }, startTimeoutMs);
      child.on('message', (message: unknown) => {
        if ((message as { type?: unknown })?.type === 'ready' && !ready.has(i)) {
          clearTimeout(timer);
          ready.add(i);
          o.tunnels.attach(i, channelOf(child));
          resolve();
          return;
        }
        o.tunnels.receive(i, message);
      });
      child.on('error', (err) => o.logger.warn({ worker: i, err }, 'gateway worker channel error'));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        ready.delete(i);
        if (children.get(i) === child) children.delete(i);
        o.tunnels.detach(i, 'gateway worker exited');
        reject(new Error(`gateway worker ${i} exited during start (${code ?? signal})`));
        if (stopping) return;
        o.logger.error({ worker: i, code, signal }, 'gateway worker exited; starting another');
        setTimeout(() => {
          if (!stopping)
            spawnWorker(i).catch((e) =>
              o.logger.error({ worker: i, err: e }, 'gateway worker restart failed'),
            );
        }, restartDelayMs).unref();
      });
      child.send(o.init(i));
    });

  o.shutdown.register('gateway workers', async () => {
    stopping = true;
    await Promise.all([...children.values()].map(stopChild));
  });
  await Promise.all(Array.from({ length: o.count }, (_, i) => spawnWorker(i)));
  return { ready: () => ready.size };
}

function channelOf(child: ChildProcess) {
  return {
    send(message: unknown, socket?: Socket) {
      if (!child.connected) throw new Error('channel closed');
      child.send(message as object, socket);
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ type: 'shutdown' });
    else child.kill('SIGKILL');
  });
}
