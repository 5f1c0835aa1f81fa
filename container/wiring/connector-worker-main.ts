import cluster from 'node:cluster';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { OutpostConfig } from '../config/schema.js';
import { createLogger } from '../log.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { workerConfigEnv, workerEventsEnv, workerShareEnv } from './connector-cluster.js';
import { openConnectorCore } from './connector-core.js';
import { workerEventSink } from './connector-events.js';
import { issuanceEvents, startConnectorListener } from './connector-listener.js';
import { scheduleMaintenance } from './connector-maintenance.js';
import { type ConnectorMetrics, createConnectorMetrics } from './connector-metrics.js';
import { scepReadyMessage } from './scep-dispatch.js';
import { serveHandedConnections } from './scep-handed-connections.js';

/**
 * Entry point of one SCEP worker process (forked by connector-cluster.ts). It gets the config the
 * primary already validated, serves SCEP on the connections the primary hands it (scep-dispatch.ts:
 * the worker binds no port), and stops when the primary says so:
 * terminal signals go to the whole process group, and only the primary decides the order of
 * shutdown, so workers ignore SIGINT/SIGTERM.
 */
async function main(): Promise<void> {
  const config = JSON.parse(process.env[workerConfigEnv] ?? '{}') as OutpostConfig;
  const share = Number(process.env[workerShareEnv] ?? '1');
  const logger = createLogger({ level: config.log.level }).child({
    component: 'connector',
    worker: cluster.worker?.id,
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let metrics: ConnectorMetrics | undefined;
  const core = await openConnectorCore(
    config,
    logger,
    // Without a cloud link nobody reads the events: no IPC message per enrollment then.
    issuanceEvents(
      logger,
      () => metrics!,
      process.env[workerEventsEnv] === '1' ? workerEventSink() : undefined,
    ),
  );
  metrics = createConnectorMetrics(registry, core.inventory);
  answerMetricsRequests(registry);
  const app = await startConnectorListener(core, config, logger, metrics, share, { listen: false });
  const connections = serveHandedConnections(app.server);
  const timer = scheduleMaintenance(core, logger, undefined, { owner: false });
  process.send?.({ type: scepReadyMessage });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    // The primary hands this worker nothing more; requests under way finish (later ones on the
    // same connection get 503 and Connection: close), then the connections close.
    await app.close();
    await connections.drained();
    core.close();
    process.exit(0);
  };
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'outpost:stop') void stop();
  });
  // The primary is gone (crashed or killed): do not outlive it.
  process.on('disconnect', () => void stop());
}

main().catch((e) => {
  console.error(JSON.stringify({ level: 60, msg: 'SCEP worker failed to start', err: String(e) }));
  process.exit(1);
});
