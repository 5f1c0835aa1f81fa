import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { registerCaHealth } from './ca-backend-factory.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { type ConnectorCore, openConnectorCore, retireCore } from './connector-core.js';
import { scheduleMaintenance } from './connector-maintenance.js';
import { registerKeyStoreHealth } from './key-store-factory.js';

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
 * SCEP in `workers` processes sharing one listening port through node:cluster, so RSA work
 * (three private-key operations per enrollment) uses every core. The primary creates the CA and
 * migrates the database before any worker starts (so they never race to create them), owns CRL
 * renewal, restarts a worker that dies, and stops them all on shutdown.
 */
export async function startConnectorCluster(options: ClusterOptions): Promise<ConnectorHandle> {
  const { logger, readiness, shutdown, workers } = options;
  let config = options.config;
  let core = await openConnectorCore(config, logger);
  shutdown.register('connector database', () => core.close());
  let maintenance = scheduleMaintenance(core, logger, undefined, { owner: true });
  shutdown.register('connector maintenance', () => clearInterval(maintenance));

  const live = new Set<Worker>();
  const listening = new Set<Worker>();
  /** Workers being replaced by a reconfiguration: their exit is expected. */
  const retired = new Set<Worker>();
  let stopping = false;
  cluster.setupPrimary({ exec: join(import.meta.dirname, 'connector-worker-main.js'), args: [] });
  const events = options.onWorkerMessage !== undefined;
  let env = workerEnv(config, workers, events);

  const fork = (): Worker => {
    const worker = cluster.fork(env);
    live.add(worker);
    worker.once('listening', () => listening.add(worker));
    worker.on('message', (message: unknown) => options.onWorkerMessage?.(message));
    worker.once('exit', (code, signal) => {
      const wasRetired = retired.has(worker);
      live.delete(worker);
      listening.delete(worker);
      retired.delete(worker);
      if (stopping || wasRetired) return;
      logger.error({ worker: worker.id, code, signal }, 'SCEP worker exited; starting another');
      setTimeout(() => !stopping && fork(), restartDelayMs).unref();
    });
    return worker;
  };
  shutdown.register('SCEP workers', () => {
    stopping = true;
    return Promise.all([...live].map(stopWorker)).then(() => undefined);
  });
  await Promise.all(Array.from({ length: workers }, () => started(fork())));
  options.registry.attachWorkers(() => [...live]);
  readiness.register('connector', async () => ({
    ok: listening.size >= workers,
    ...(listening.size >= workers
      ? {}
      : { detail: `${listening.size} of ${workers} SCEP workers listening` }),
  }));
  readiness.register('state', () => core.state.health());
  registerCaHealth(readiness, () => core);
  registerKeyStoreHealth(readiness, () => core);
  const { scep } = config.connector;
  logger.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, workers }, 'connector ready');

  /**
   * Rolling replacement: a full set of workers with the new config starts beside the old ones
   * (cluster shares the port, so requests keep being served), then the old ones finish their
   * requests and stop. If a new worker fails to start, the new ones stop and the old stay.
   */
  const reconfigure = async (next: OutpostConfig) => {
    const nextCore = await openConnectorCore(next, logger);
    const previous = [...live];
    env = workerEnv(next, workers, events);
    const fresh: Worker[] = [];
    try {
      for (let i = 0; i < workers; i++) fresh.push(fork());
      await Promise.all(fresh.map(started));
    } catch (e) {
      env = workerEnv(config, workers, events);
      for (const worker of fresh) retired.add(worker);
      await Promise.all(fresh.map(stopWorker));
      nextCore.close();
      throw e;
    }
    for (const worker of previous) retired.add(worker);
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
    worker.once('exit', onExit);
    worker.once('listening', () => {
      worker.off('exit', onExit);
      resolve();
    });
  });
}

/** Asks the worker to close its listener and finish; kills it if it does not within the limit. */
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
