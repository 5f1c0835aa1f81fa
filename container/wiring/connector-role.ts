import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { startConnectorCluster } from './connector-cluster.js';
import { openConnectorCore } from './connector-core.js';
import { issuanceEvents, startConnectorListener } from './connector-listener.js';
import { scheduleMaintenance } from './connector-maintenance.js';
import { type ConnectorMetrics, createConnectorMetrics } from './connector-metrics.js';

export function workerCount(config: OutpostConfig): number {
  const configured = config.connector.scep.workers;
  return configured === 0 ? availableParallelism() : configured;
}

/**
 * Starts the connector role: in this process when one worker is configured, otherwise as a
 * cluster of SCEP worker processes sharing the port (connector-cluster.ts).
 */
export async function startConnectorRole(
  config: OutpostConfig,
  logger: Logger,
  registry: ClusterRegistry,
  readiness: Readiness,
  shutdown: ShutdownManager,
): Promise<void> {
  const log = logger.child({ component: 'connector' });
  const workers = workerCount(config);
  if (workers > 1) {
    await startConnectorCluster({ config, logger: log, registry, readiness, shutdown, workers });
    return;
  }
  let metrics: ConnectorMetrics | undefined;
  const core = await openConnectorCore(
    config,
    log,
    issuanceEvents(log, () => metrics!),
  );
  shutdown.register('connector database', () => core.close());
  metrics = createConnectorMetrics(registry, core.inventory);
  const app = await startConnectorListener(core, config, log, metrics);
  shutdown.register('SCEP listener', () => app.close());
  readiness.register('connector', async () => ({ ok: core.db.open && app.server.listening }));
  scheduleMaintenance(core, log, shutdown, { owner: true });
  const { scep } = config.connector;
  log.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, workers: 1 }, 'connector ready');
}
