import type { Logger } from 'pino';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { registerCaHealth } from './ca-backend-factory.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { type ConnectorHandle, startConnectorCluster } from './connector-cluster.js';
import { openConnectorCore, retireCore } from './connector-core.js';
import { type ConnectorEventSink, forwardWorkerEvent } from './connector-events.js';
import { issuanceEvents, startConnectorListener } from './connector-listener.js';
import { scheduleMaintenance } from './connector-maintenance.js';
import { type ConnectorMetrics, createConnectorMetrics } from './connector-metrics.js';
import { registerKeyStoreHealth } from './key-store-factory.js';

/**
 * Starts the connector role: in this process when one worker is configured, otherwise as a
 * cluster of SCEP worker processes the primary hands connections to (connector-cluster.ts).
 */
export async function startConnectorRole(
  config: OutpostConfig,
  logger: Logger,
  registry: ClusterRegistry,
  readiness: Readiness,
  shutdown: ShutdownManager,
  events?: ConnectorEventSink,
): Promise<ConnectorHandle> {
  const log = logger.child({ component: 'connector' });
  // A number: `auto` was resolved when the config was loaded.
  const workers = config.connector.scep.workers;
  if (workers > 1) {
    return startConnectorCluster({
      config,
      logger: log,
      registry,
      readiness,
      shutdown,
      workers,
      ...(events ? { onWorkerMessage: (message) => forwardWorkerEvent(message, events) } : {}),
    });
  }
  let metrics: ConnectorMetrics | undefined;
  const open = (cfg: OutpostConfig) =>
    openConnectorCore(
      cfg,
      log,
      issuanceEvents(log, () => metrics!, events),
    );
  let core = await open(config);
  shutdown.register('connector database', () => core.close());
  metrics = createConnectorMetrics(registry, { count: (filter) => core.inventory.count(filter) });
  let app = await startConnectorListener(core, config, log, metrics);
  shutdown.register('SCEP listener', () => app.close());
  readiness.register('connector', async () => ({ ok: app.server.listening }));
  readiness.register('state', () => core.state.health());
  registerCaHealth(readiness, () => core);
  registerKeyStoreHealth(readiness, () => core);
  let maintenance = scheduleMaintenance(core, log, undefined, { owner: true });
  shutdown.register('connector maintenance', () => clearInterval(maintenance));
  const { scep } = config.connector;
  log.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, workers: 1 }, 'connector ready');

  let current = config;
  /**
   * One process: the listener closes (in-flight requests finish) and reopens with the new
   * settings; if the new one cannot start, the old settings are restored and the error thrown.
   */
  const reconfigure = async (next: OutpostConfig) => {
    const nextCore = await open(next);
    await app.close();
    try {
      app = await startConnectorListener(nextCore, next, log, metrics!);
    } catch (e) {
      nextCore.close();
      app = await startConnectorListener(core, current, log, metrics!);
      throw e;
    }
    clearInterval(maintenance);
    const replaced = core;
    core = nextCore;
    current = next;
    maintenance = scheduleMaintenance(core, log, undefined, { owner: true });
    retireCore(replaced);
    log.info({ listen: next.connector.scep.listen }, 'connector reconfigured');
  };
  return { core: () => core, reconfigure };
}
