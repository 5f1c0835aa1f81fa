import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { openConnectorCore } from './connector-core.js';
import { scheduleMaintenance } from './connector-maintenance.js';

/** Environment variables that carry the validated config and the share to a worker. */
export const workerConfigEnv = 'OUTPOST_WORKER_CONFIG';
export const workerShareEnv = 'OUTPOST_WORKER_SHARE';

const restartDelayMs = 1_000;
const stopTimeoutMs = 8_000;

export interface ClusterOptions {
  config: OutpostConfig;
  logger: Logger;
  registry: ClusterRegistry;
  readiness: Readiness;
  shutdown: ShutdownManager;
  workers: number;
}

/**
 * SCEP in `workers` processes sharing one listening port through node:cluster, so RSA work
 * (three private-key operations per enrollment) uses every core. The primary creates the CA and
 * migrates the database before any worker starts (so they never race to create them), owns CRL
 * renewal, restarts a worker that dies, and stops them all on shutdown.
 */
export async function startConnectorCluster(options: ClusterOptions): Promise<void> {
  const { config, logger, readiness, shutdown, workers } = options;
  const core = await openConnectorCore(config, logger);
  shutdown.register('connector database', () => core.close());
  scheduleMaintenance(core, logger, shutdown, { owner: true });

  const live = new Set<Worker>();
  const listening = new Set<Worker>();
  let stopping = false;
  cluster.setupPrimary({ exec: join(import.meta.dirname, 'connector-worker-main.js'), args: [] });
  const env = { [workerConfigEnv]: JSON.stringify(config), [workerShareEnv]: String(workers) };

  const fork = (): Worker => {
    const worker = cluster.fork(env);
    live.add(worker);
    worker.once('listening', () => listening.add(worker));
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      listening.delete(worker);
      if (stopping) return;
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
    ok: core.db.open && listening.size === workers,
    ...(listening.size === workers
      ? {}
      : { detail: `${listening.size} of ${workers} SCEP workers listening` }),
  }));
  const { scep } = config.connector;
  logger.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, workers }, 'connector ready');
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
