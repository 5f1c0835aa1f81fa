import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { registerCrlRoute } from '../../connector/scep/http/crl-route.js';
import { createConnectorHttp } from '../../connector/scep/http/connector-http.js';
import { ScepOperations } from '../../connector/scep/http/scep-operations.js';
import { registerScepRoutes } from '../../connector/scep/http/scep-routes.js';
import type { ScepRa } from '../../connector/scep/http/scep-ra.js';
import type { Readiness } from '../admin/readiness.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { type ConnectorCore, openConnectorCore } from './connector-core.js';
import { createConnectorMetrics } from './connector-metrics.js';

/** How often the running connector looks after its CRL and expired challenges. */
const MAINTENANCE_INTERVAL_MS = 10_000;

function scepRa(core: ConnectorCore): ScepRa {
  return {
    certDer: core.ca.raCertificateDer,
    privateKey: core.ca.raPrivateKey,
    signer: core.ca.raSigner,
    caChainDer: core.ca.caChain(),
    currentCrl: () => core.ca.currentCrl(),
  };
}

/**
 * Starts the connector role: core (database, CA, authority), the device-facing HTTP listener
 * (SCEP + CRL), metrics, readiness and a maintenance timer, each registered for shutdown.
 */
export async function startConnectorRole(
  config: OutpostConfig,
  logger: Logger,
  registry: Registry,
  readiness: Readiness,
  shutdown: ShutdownManager,
): Promise<void> {
  const log = logger.child({ component: 'connector' });
  const core = await openConnectorCore(config, log, {
    issued: (record, via) => {
      metrics.issued(record.profile, via);
      log.info(
        { serial: record.serialHex, subject: record.subject, profile: record.profile, via, transactionId: record.transactionId },
        'certificate issued',
      );
    },
  });
  shutdown.register('connector database', () => core.close());
  const metrics = createConnectorMetrics(registry, core.inventory);

  const { scep } = config.connector;
  const app = createConnectorHttp({ maxBodyBytes: scep.limits.maxBodyBytes, requestTimeoutMs: scep.limits.requestTimeoutMs });
  const ra = scepRa(core);
  const scepLog = log.child({ component: 'scep' });
  const operations = new ScepOperations({ ra, authority: core.authority, maxMessageBytes: scep.limits.maxBodyBytes, logger: scepLog });
  registerScepRoutes(app, { path: scep.path, ra, operations, limits: scep.limits, logger: scepLog, metrics });
  registerCrlRoute(app, () => core.ca.currentCrl());

  const where = parseListenAddress(scep.listen)!;
  await app.listen({ host: where.host, port: where.port });
  shutdown.register('SCEP listener', () => app.close());
  readiness.register('connector', async () => ({ ok: core.db.open && app.server.listening }));

  const timer = setInterval(() => maintain(core, log), MAINTENANCE_INTERVAL_MS);
  timer.unref();
  shutdown.register('connector maintenance', () => clearInterval(timer));
  log.info({ scep: `${scep.publicUrl}${scep.path}`, listen: scep.listen, ca: config.connector.ca.type }, 'connector ready');
}

/** CRL: pick up one written by a CLI process, and renew before it expires; purge used challenges. */
async function maintain(core: ConnectorCore, log: Logger): Promise<void> {
  try {
    await core.ca.reloadCrl();
    await core.ca.refreshCrlIfDue();
    core.challengeStore.purgeExpired(new Date());
  } catch (e) {
    log.error({ err: e }, 'connector maintenance failed');
  }
}
