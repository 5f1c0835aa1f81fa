import type { Logger } from 'pino';
import { startAdminServer } from '../admin/admin-server.js';
import { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { ClusterRegistry } from './cluster-metrics.js';
import { startConnectorRole } from './connector-role.js';

/**
 * `outpost run`: starts each configured role, then the admin server (/healthz, /readyz,
 * /metrics). Every started piece registers its closer, so SIGTERM undoes them in reverse order.
 */
export async function startAppliance(
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
): Promise<void> {
  const registry = new ClusterRegistry();
  const readiness = new Readiness();
  if (config.roles.includes('connector')) {
    await startConnectorRole(config, logger, registry, readiness, shutdown);
  }
  if (config.roles.includes('gateway')) {
    // The gateway role (issue 3) is not built yet: say so once rather than pretend it runs.
    logger.warn({ component: 'gateway' }, 'the gateway role is not available in this version; not started');
  }
  const admin = await startAdminServer({ listen: config.admin.listen, registry, readiness, logger });
  shutdown.register('admin server', () => admin.close());
  logger.info(
    { roles: config.roles, admin: config.admin.listen, dataDir: config.dataDir },
    'outpost running',
  );
}
