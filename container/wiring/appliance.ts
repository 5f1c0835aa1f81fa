import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { startAdminServer } from '../admin/admin-server.js';
import { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';

/**
 * STUB: starts only the admin server (/healthz, /readyz, /metrics). The integrator replaces it
 * with the wiring of the roles; each started piece registers its closer with `shutdown`.
 */
export async function startAppliance(
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
): Promise<void> {
  const registry = new Registry();
  const readiness = new Readiness();
  const admin = await startAdminServer({ listen: config.admin.listen, registry, readiness, logger });
  shutdown.register('admin server', () => admin.close());
  logger.warn({ roles: config.roles }, 'roles are not wired yet: only the admin server runs');
}
