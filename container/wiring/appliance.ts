import type { Logger } from 'pino';
import { ErrorCodes, isOutpostError } from '../../core/errors.js';
import { startAdminApiServer } from '../admin/admin-api-server.js';
import { startAdminServer } from '../admin/admin-server.js';
import { Readiness } from '../admin/readiness.js';
import type { ApplianceStartOptions } from '../cli/cli-context.js';
import { adminApiEndpoint } from '../config/admin-api-endpoint.js';
import type { OutpostConfig } from '../config/schema.js';
import { handDataDirToOwner } from '../data-dir.js';
import { PushedConfigStore } from '../reconfigure/pushed-config-store.js';
import { Reconfigurer } from '../reconfigure/reconfigurer.js';
import type { ShutdownManager } from '../shutdown.js';
import { registerAdminApi } from './admin-api.js';
import { ensureAdminToken } from './admin-token.js';
import { registerApplianceMetrics } from './appliance-metrics.js';
import { ClusterRegistry } from './cluster-metrics.js';
import type { ConnectorHandle } from './connector-cluster.js';
import { startConnectorRole } from './connector-role.js';
import { type GatewayHandle, startGatewayRole } from './gateway-role.js';
import { openLinkRole } from './link-role.js';

/**
 * `outpost run`: starts each configured role, then the probes server (/healthz, /readyz,
 * /metrics) and the admin API (a Unix socket in the data directory by default). Every started piece registers its closer, so SIGTERM undoes them in reverse order.
 */
export async function startAppliance(
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
  options: ApplianceStartOptions = {},
): Promise<ApplianceHandle> {
  const registry = new ClusterRegistry();
  const readiness = new Readiness();
  // Opened before the roles (its event outbox and job checkpoints are theirs), started after them.
  const link = openLinkRole(config, logger);
  registerApplianceMetrics(registry, link?.service);
  const connector = config.roles.includes('connector')
    ? await startConnectorRole(config, logger, registry, readiness, shutdown, link?.service)
    : undefined;
  const gateway = config.roles.includes('gateway')
    ? await startGatewayOrReport(config, logger, registry, readiness, shutdown)
    : undefined;
  const reconfigurer = new Reconfigurer({
    current: config,
    load: options.load ?? (() => config),
    roles: { gateway, connector },
    store: new PushedConfigStore(config.dataDir),
    logger,
  });
  reloadOnHangup(reconfigurer, logger, shutdown);
  const admin = await startAdminServer({
    listen: config.admin.listen,
    registry,
    readiness,
    logger,
    ...(config.roles.includes('gateway')
      ? {
          gatewayHealth: gateway
            ? () => gateway.health()
            : () => ({ healthy: false, reasons: ['not-started'] }),
        }
      : {}),
  });
  shutdown.register('admin server', () => admin.close());
  const adminToken = await ensureAdminToken(config.dataDir);
  const adminApi = await startAdminApiServer({
    endpoint: adminApiEndpoint(config),
    logger,
    routes: (app) =>
      registerAdminApi(app, {
        token: adminToken,
        ...(gateway
          ? {
              sessions: gateway.sessions,
              bans: gateway.bans,
              drain: (on, migrate) => gateway.drain(on, migrate),
              closeSessions: (match, reason) => gateway.closeSessions(match, reason),
            }
          : {}),
      }),
  });
  shutdown.register('admin API', () => adminApi.close());
  // Last: the admin API's socket and everything before it are in the data directory by now.
  keepDataDirWithOwner(config.dataDir, logger, shutdown);
  await link?.start(
    { reconfigurer, ...(gateway ? { gateway } : {}), ...(connector ? { connector } : {}) },
    shutdown,
  );
  logger.info(
    { roles: config.roles, admin: config.admin.listen, adminApi: adminApi.where, dataDir: config.dataDir },
    'outpost running',
  );
  return { reconfigurer, ...(gateway ? { gateway } : {}), ...(connector ? { connector } : {}) };
}

/** What the link (and tests) reach of a running appliance. */
export interface ApplianceHandle {
  reconfigurer: Reconfigurer;
  gateway?: GatewayHandle;
  connector?: ConnectorHandle;
}

/**
 * As root on a volume another uid owns (the gateway service beside the unprivileged connector):
 * hand what this process created to that owner now, and every minute for files created later
 * (the gateway's renewed TLS certificate, pushed configuration).
 */
function keepDataDirWithOwner(dataDir: string, logger: Logger, shutdown: ShutdownManager): void {
  const handOver = () => {
    const changed = handDataDirToOwner(dataDir);
    if (changed > 0) logger.info({ dataDir, changed }, 'data directory entries given to its owner');
  };
  handOver();
  if (process.getuid?.() !== 0) return;
  const timer = setInterval(handOver, 60_000).unref();
  shutdown.register('data directory owner', () => clearInterval(timer));
}

/** SIGHUP re-reads the config file and applies what can change in place (see reconfigure/). */
function reloadOnHangup(reconfigurer: Reconfigurer, logger: Logger, shutdown: ShutdownManager): void {
  const onHangup = () => {
    reconfigurer.reload().catch((e: unknown) => {
      logger.error({ component: 'reconfigure', err: e }, 'configuration not reloaded; the running one stays');
    });
  };
  process.on('SIGHUP', onHangup);
  shutdown.register('SIGHUP handler', () => void process.off('SIGHUP', onHangup));
}

/**
 * A gateway that cannot start never takes the other roles with it: a host that cannot run the VPN
 * (no /dev/net/tun, no CAP_NET_ADMIN, forwarding off, `ip` or `nft` missing, the port taken)
 * still runs the connector. The gateway says why it did not start, once, and /readyz stays 503
 * with that reason, so a health check notices and the admin is told what to fix. Whatever it had
 * opened before failing is closed with the rest at shutdown.
 */
export async function startGatewayOrReport(
  config: OutpostConfig,
  logger: Logger,
  registry: ClusterRegistry,
  readiness: Readiness,
  shutdown: ShutdownManager,
  start: typeof startGatewayRole = startGatewayRole,
): Promise<GatewayHandle | undefined> {
  try {
    return await start(config, logger, registry, readiness, shutdown);
  } catch (e) {
    const code = isOutpostError(e) ? e.code : ErrorCodes.internal;
    const reason = e instanceof Error ? e.message : String(e);
    logger.error(
      { component: 'gateway', code, reason },
      'the gateway role did not start; the other roles run on',
    );
    readiness.register('gateway', async () => ({ ok: false, detail: `not started: ${reason} (${code})` }));
    return undefined;
  }
}
