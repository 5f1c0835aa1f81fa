import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { PG_MIGRATIONS } from '../../connector/store/postgres/pg-migrations.js';
import { PostgresState } from '../../connector/store/postgres/pg-state.js';
import type { BanPoints } from '../../gateway/auth/ban-points.js';
import type { AddressAllocator } from '../../gateway/control/ports.js';
import { runCommand } from '../../gateway/net/command-runner.js';
import { foreignBlockRoutes } from '../../gateway/net/foreign-blocks.js';
import { workerTunName } from '../../gateway/net/worker-tun-names.js';
import type { Identity } from '../../gateway/session/identity.js';
import type { SessionTable } from '../../gateway/session/session-table.js';
import { PostgresSessionStore } from '../../gateway/site/postgres-session-store.js';
import { SiteSessions } from '../../gateway/site/site-sessions.js';
import type { Readiness } from '../admin/readiness.js';
import { packageVersion } from '../cli/package-version.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import { postgresStateOptions } from './postgres-state-options.js';

export interface GatewaySiteDeps {
  table: SessionTable;
  /** The gateway's pools and each group's own: this node's blocks. */
  blocks: string[];
  /** Read at each use (a reconfiguration swaps the group policies). */
  addressesFor: (identity: Identity) => AddressAllocator;
  bans: BanPoints;
  /** The running gateway settings (timers change on reconfiguration). */
  gateway: () => OutpostConfig['gateway'];
  readiness: Readiness;
  shutdown: ShutdownManager;
  logger: Logger;
}

/**
 * With `state.backend: postgres`, the node's part in a site (gateway/site): the PostgreSQL state
 * (migrated under its advisory lock), joined with this node's pool blocks (refused when they
 * overlap another node's), followed before the listener opens. Undefined on a node of its own.
 */
export async function openGatewaySite(
  config: OutpostConfig,
  deps: GatewaySiteDeps,
): Promise<SiteSessions | undefined> {
  if (config.state.backend !== 'postgres' || !config.state.postgres) return undefined;
  const log = deps.logger.child({ component: 'site' });
  const state = await PostgresState.open({
    ...(await postgresStateOptions(config.state.postgres, PG_MIGRATIONS)),
    binary: `outpost ${packageVersion()}`,
    onIdleError: (e) => log.warn({ reason: e.message }, 'an idle connection to the state database dropped'),
  });
  deps.shutdown.register('gateway site state', () => state.close());
  deps.readiness.register('state', () => state.health());
  const gw = config.gateway;
  const tunName = gw.workers > 1 ? workerTunName(gw.tun.name, 0) : gw.tun.name;
  const foreign = foreignBlockRoutes(runCommand, { tunName, nat: gw.nat });
  await foreign.setup();
  deps.shutdown.register('NAT rules of carried blocks', () => foreign.close());
  const node = gw.nodeName ?? hostname();
  const site = new SiteSessions({
    node,
    store: new PostgresSessionStore(state),
    table: deps.table,
    blocks: deps.blocks,
    addressesFor: deps.addressesFor,
    foreign,
    bans: deps.bans,
    limits: () => ({
      cookieTimeoutMs: deps.gateway().timers.cookie * 1000,
      sessionTimeoutMs: deps.gateway().timers.session * 1000,
    }),
    logger: log,
  });
  await site.start();
  deps.shutdown.register('gateway site', () => site.stop());
  log.info({ node, blocks: deps.blocks }, 'gateway joined the site');
  return site;
}
