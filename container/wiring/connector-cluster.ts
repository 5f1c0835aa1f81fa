import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { registerCaHealth } from './ca-backend-factory.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { type ConnectorCore, openConnectorCore, retireCore } from './connector-core.js';
import { scheduleMaintenance } from './connector-maintenance.js';
import { registerKeyStoreHealth } from './key-store-factory.js';
import { ScepDispatch, scepReadyMessage } from './scep-dispatch.js';

/** Environment variables that carry the validated config and the share to a worker. */
export const workerConfigEnv = 'OUTPOST_WORKER_CONFIG';
export const workerShareEnv = 'OUTPOST_WORKER_SHARE';
/** '1' when the primary forwards the workers' issuance events (to the cloud link); else none are sent. */
export const workerEventsEnv = 'OUTPOST_WORKER_EVENTS';

const restartDelayMs = 1_000;
const stopTimeoutMs = 8_000;

export interface ClusterOptions {
  config: OutpostConfig;
  logger: Logger;
  registry: ClusterRegistry;
  readiness: Readiness;
  shutdown: ShutdownManager;
  workers: number;
  /** Messages workers send the primary (issuance events for the cloud link). */
  onWorkerMessage?: (message: unknown) => void;
}

/** The running connector role: its primary core (used by link jobs) and live reconfiguration. */
export interface ConnectorHandle {
  core(): ConnectorCore;
  reconfigure(next: OutpostConfig): Promise<void>;
}

/**
 * SCEP in `workers` processes, so RSA work (three private-key operations per enrollment) uses
 * every core. The primary holds the listening socket and hands each connection to the worker with
 * the fewest open (scep-dispatch.ts). It creates the CA and migrates the database before any
 * worker starts (so they never race to create them), owns CRL renewal, restarts a worker that
 * dies, and stops them all on shutdown.
 */
export async function startConnectorCluster(options: ClusterOptions): Promise<ConnectorHandle> {
  const { logger, readiness, shutdown, workers } = options;
  let config = options.config;
  let core = await openConnectorCore(config, logger);
  shutdown.register('connector database', () => core.close());
  let maintenance = scheduleMaintenance(core, logger, undefined, { owner: true });
  shutdown.register('connector maintenance', () => clearInterval(maintenance));

  const dispatch = new ScepDispatch(logger);
  const live = new Set<Worker>();
  /** Workers being handed connections. */
  const serving = new Set<Worker>();
  /** Workers being replaced by a reconfiguration: their exit is expected. */
  const retired = new Set<Worker>();
  let stopping = false;
  cluster.setupPrimary({ exec: join(import.meta.dirname, 'connector-worker-main.js'), args: [] });
  const events = options.onWorkerMessage !== undefined;
  let env = workerEnv(config, workers, events);

  const serve = (worker: Worker) => {
    if (stopping || retired.has(worker) || worker.isDead()) return;
    serving.add(worker);
    dispatch.join(worker);
  };
  const unserve = (worker: Worker) => {
    serving.delete(worker);
    dispatch.leave(worker);
  };
  /** `serveWhenReady`: a replacement for a dead worker joins as soon as it is ready. */
  const fork = (serveWhenReady: boolean): Worker => {
    const worker = cluster.fork(env);
    live.add(worker);
    if (serveWhenReady)
      void started(worker).then(
        () => serve(worker),
        () => undefined,
      );
    worker.on('message', (message: unknown) => {
      dispatch.receive(worker, message);
      options.onWorkerMessage?.(message);
    });
    worker.once('exit', (code, signal) => {
      const wasRetired = retired.has(worker);
      live.delete(worker);
      unserve(worker);
      retired.delete(worker);
      if (stopping || wasRetired) return;
      logger.error({ worker: worker.id, code, signal }, 'SCEP worker exited; starting another');
      setTimeout(() => !stopping && fork(true), restartDelayMs).unref();
    });
    return worker;
  };
  shutdown.register('SCEP workers', () => {
    stopping = true;
    for (const worker of live) unserve(worker);
    return Promise.all([...live].map(stopWorker)).then(() => undefined);
  });
  const first = Array.from({ length: workers }, () => fork(false));
  await Promise.all(first.map(started));
  for (const worker of first) serve(worker);
  await dispatch.listen(config.connector.scep.listen);
  // Registered last, so it runs first: no new connection once the workers are asked to stop.
  shutdown.register('SCEP listener', () => dispatch.close());
  options.registry.attachWorkers(() => [...live]);
  new Gauge({
    name: 'outpost_scep_open_connections',
    help: 'SCEP connections open on the SCEP workers (handed over by the primary, not yet closed)',
    registers: [options.registry],
    collect() {
      this.set(dispatch.counts().reduce((a, b) => a + b, 0));
    },
  });
  readiness.register('connector', async () => {
    const ok = serving.size >= workers && dispatch.listening();
    return ok
      ? { ok }
      : {
          ok,
          detail: `${serving.size} of ${workers} SCEP workers serving, listener ${dispatch.listening() ? 'open' : 'closed'}`,
        };
  });
  readiness.register('state', () => core.state.health());
  registerCaHealth(readiness, () => core);
  registerKeyStoreHealth(readiness, () => core);
  const { scep } = config.connector;
  logger.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, workers }, 'connector ready');

  /**
   * Rolling replacement: a full set of workers with the new config starts beside the old ones,
   * the listener moves if its address changed, new connections go to the new workers only, then
   * the old ones finish their requests and stop. If a new worker fails to start, or the new
   * address cannot be bound, the new workers stop and the old ones keep serving.
   */
  const reconfigure = async (next: OutpostConfig) => {
    const nextCore = await openConnectorCore(next, logger);
    const previous = [...live];
    env = workerEnv(next, workers, events);
    const fresh: Worker[] = [];
    try {
      for (let i = 0; i < workers; i++) fresh.push(fork(false));
      await Promise.all(fresh.map(started));
      await dispatch.listen(next.connector.scep.listen);
    } catch (e) {
      env = workerEnv(config, workers, events);
      for (const worker of fresh) retired.add(worker);
      await Promise.all(fresh.map(stopWorker));
      nextCore.close();
      throw e;
    }
    for (const worker of fresh) serve(worker);
    for (const worker of previous) {
      retired.add(worker);
      unserve(worker);
    }
    await Promise.all(previous.map(stopWorker));
    clearInterval(maintenance);
    const replaced = core;
    core = nextCore;
    config = next;
    maintenance = scheduleMaintenance(core, logger, undefined, { owner: true });
    retireCore(replaced);
    logger.info({ workers, listen: next.connector.scep.listen }, 'connector reconfigured');
  };
  return { core: () => core, reconfigure };
}

function workerEnv(config: OutpostConfig, workers: number, events: boolean): Record<string, string> {
  return {
    [workerConfigEnv]: JSON.stringify(config),
    [workerShareEnv]: String(workers),
    [workerEventsEnv]: events ? '1' : '0',
  };
}

function started(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(
        new OutpostError(ErrorCodes.internal, 'a SCEP worker failed to start', {
          detail: `exit code ${code}`,
        }),
      );
    const onMessage = (message: { type?: unknown } | null) => {
      if (message?.type !== scepReadyMessage) return;
      worker.off('exit', onExit);
      worker.off('message', onMessage);
      resolve();
    };
    worker.once('exit', onExit);
    worker.on('message', onMessage);
  });
}

/** Asks the worker to finish its requests and close its connections; kills it if it does not within the limit. */
function stopWorker(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    if (worker.isDead()) return resolve();
    const timer = setTimeout(() => worker.kill('SIGKILL'), stopTimeoutMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.send({ type: 'outpost:stop' });
  });
}
