import type { Socket } from 'node:net';
import type { LevelWithSilent, Logger } from 'pino';
import type { ServerDisconnectReason } from '../../gateway/cstp/index.js';
import { DtlsService } from '../../gateway/dtls/dtls-service.js';
import { runCommand } from '../../gateway/net/command-runner.js';
import { configureTunInterface } from '../../gateway/net/tun-interface.js';
import { ChunkPool } from '../../gateway/tls/chunk-pool.js';
import { loadEvp } from '../../gateway/tls/evp.js';
import { LinuxTunDevice } from '../../gateway/tun/linux-tun-device.js';
import { TunnelWorker } from '../../gateway/workers/worker-tunnel-host.js';
import { createLogger } from '../log.js';
import { type WorkerInit, workerInit } from './gateway-worker-init.js';

/**
 * Entry point of one gateway tunnel worker (gateway.workers > 1), forked by gateway-workers.ts.
 * It waits for `init`, opens and configures its TUN (the gateway address as a host address, its
 * pool blocks routed in), says `ready`, and then runs the tunnels the primary hands it. Signals
 * go to the whole process group and only the primary decides the order of shutdown, so SIGINT
 * and SIGTERM are ignored here; a primary that disappears ends the worker.
 */
const maxQueuedBytes = 4 * 1024 * 1024;
const chunkBytes = 64 * 1024;
const freeChunks = 256;
/** RecordTransport.end gives a client this long to read the DISCONNECT before the socket goes. */
const shutdownGraceMs = 2500;

function send(message: unknown): void {
  if (process.connected) process.send?.(message);
}

async function start(
  init: WorkerInit,
): Promise<{ worker: TunnelWorker; tun: LinuxTunDevice; logger: Logger }> {
  const logger = createLogger({ level: init.logLevel as LevelWithSilent }).child({
    component: 'gateway-worker',
    worker: init.worker,
  });
  const evp = loadEvp();
  if (!evp) throw new Error("koffi cannot reach OpenSSL: tunnel workers need Outpost's record layer");
  const tun = LinuxTunDevice.open(init.tun.name, { mtu: init.tun.mtu });
  await configureTunInterface(runCommand, {
    name: tun.name,
    mtu: init.tun.mtu,
    ipv4: { address: init.addresses.ipv4, prefixLength: 32 },
    ...(init.addresses.ipv6 ? { ipv6: { address: init.addresses.ipv6, prefixLength: 128 } } : {}),
  });
  await runCommand('ip', ['link', 'set', 'dev', tun.name, 'txqueuelen', '2048']);
  for (const cidr of init.routes.ipv4)
    await runCommand('ip', ['-4', 'route', 'replace', cidr, 'dev', tun.name]);
  for (const cidr of init.routes.ipv6)
    await runCommand('ip', ['-6', 'route', 'replace', cidr, 'dev', tun.name]);
  // Its own UDP port: a session's datagrams come straight here, where its keys and tunnel are.
  const dtls = init.dtls
    ? await DtlsService.start({
        evp,
        host: init.dtls.host,
        port: init.dtls.port,
        maxPacket: init.tun.mtu,
        logger,
        burstPauseMicros: init.dtls.burstPauseMicros,
      })
    : undefined;
  const worker = new TunnelWorker({
    device: tun,
    recordLayer: { evp, pool: new ChunkPool(evp, chunkBytes, freeChunks) },
    maxQueuedBytes,
    send,
    logger,
    ...(dtls ? { dtls } : {}),
  });
  logger.info(
    { tun: tun.name, routes: [...init.routes.ipv4, ...init.routes.ipv6], dtlsPort: dtls?.port },
    'gateway worker ready',
  );
  return { worker, tun, logger };
}

function main(): void {
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  let running: Awaited<ReturnType<typeof start>> | undefined;
  let starting = false;
  let stopping = false;
  const stop = async (reason: ServerDisconnectReason) => {
    if (stopping) return;
    stopping = true;
    const tunnels = running?.worker.size ?? 0;
    running?.worker.close(reason);
    // Their DISCONNECT frames and close_notify are queued: give clients the grace RecordTransport
    // gives them before the sockets go with the process.
    if (tunnels > 0) await new Promise((r) => setTimeout(r, shutdownGraceMs));
    await running?.tun.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (message: unknown, handle: unknown) => {
    const type = (message as { type?: unknown })?.type;
    if (type === 'shutdown') return void stop('server shutdown');
    if (!running) {
      if (starting) return; // the primary sends tunnels only after `ready`
      starting = true;
      const init = workerInit.safeParse(message);
      if (!init.success) {
        console.error(
          JSON.stringify({ level: 50, msg: 'gateway worker: expected init', reason: init.error.message }),
        );
        process.exit(1);
      }
      start(init.data).then(
        (r) => {
          running = r;
          send({ type: 'ready' });
        },
        (e) => {
          console.error(JSON.stringify({ level: 60, msg: 'gateway worker failed to start', err: String(e) }));
          process.exit(1);
        },
      );
      return;
    }
    running.worker.receive(message, handle as Socket | undefined);
  });
  // The primary is gone (crashed or killed): do not outlive it.
  process.on('disconnect', () => {
    running?.logger.warn('gateway primary gone: ending every tunnel');
    void stop('server shutdown');
  });
}

main();
