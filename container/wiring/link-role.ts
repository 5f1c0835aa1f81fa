import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { connectorJobHandlers } from '../../connector/jobs/connector-job-handlers.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import {
  isEnrolled,
  LinkFiles,
  linkDir,
  readEnrolledCloudCa,
  readLinkState,
} from '../../link/enroll/agent-files.js';
import { LinkService } from '../../link/link-service.js';
import type { ConfigApplier, HealthSource, JobHandler } from '../../link/ports.js';
import { packageVersion } from '../cli/package-version.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import type { ConnectorCore } from './connector-core.js';
import { type RevocableSessions, sessionRevokeHandler } from './gateway-jobs.js';
import { connectorHealthSource, gatewayHealthSource } from './role-health.js';

/** What the link reaches of a running appliance (a subset of appliance.ts ApplianceHandle). */
export interface LinkedAppliance {
  reconfigurer?: {
    applyPushed(section: string, version: number, value: unknown): Promise<unknown>;
    useCloudJwks(file: string, issuer: string): Promise<unknown>;
  };
  connector?: { core(): ConnectorCore };
  gateway?: RevocableSessions & {
    sessions: {
      readonly size: number;
      list(): Array<{ bytesIn: number; bytesOut: number }>;
    };
  };
}

export interface LinkRole {
  /** Registration points for the roles (jobs, config sections, health, JWKS) and their EventSink. */
  service: LinkService;
  /** Registers what `appliance` offers, then connects; the link closes before the roles on shutdown. */
  start(appliance: LinkedAppliance, shutdown: ShutdownManager): Promise<void>;
}

/**
 * The cloud link, when this appliance has one: `cloud` configured or `outpost enroll` done (DATA/link/
 * link.json). Opened before the roles (they get its EventSink and the jobs' checkpoint store) and
 * started after them. A link that cannot open is logged and left out: the roles run standalone.
 */
export function openLinkRole(config: OutpostConfig, logger: Logger): LinkRole | undefined {
  const log = logger.child({ component: 'link' });
  if (!config.cloud && !isEnrolled(config.dataDir)) return undefined;
  try {
    const service = new LinkService(serviceOptions(config, log));
    return { service, start: (appliance, shutdown) => startLink(service, config, appliance, shutdown, log) };
  } catch (e) {
    log.error({ err: e }, 'the cloud link did not start; running standalone');
    return undefined;
  }
}

function serviceOptions(config: OutpostConfig, log: Logger) {
  const state = readLinkState(config.dataDir);
  if (!state) {
    throw new OutpostError(
      ErrorCodes.config,
      'cloud is configured but this appliance is not enrolled: run outpost enroll',
    );
  }
  const cloud = config.cloud;
  const roles = config.roles.filter((r) => state.roles.includes(r));
  if (roles.length === 0) {
    throw new OutpostError(
      ErrorCodes.config,
      `enrolled for ${state.roles.join(', ')}, running ${config.roles.join(', ')}`,
    );
  }
  if (roles.length < config.roles.length) {
    log.warn(
      { enrolled: state.roles, running: config.roles },
      'a running role was not enrolled; it gets no jobs',
    );
  }
  const cloudCa = cloud?.ca ? readFileSync(cloud.ca, 'utf8') : readEnrolledCloudCa(config.dataDir);
  return {
    dataDir: config.dataDir,
    cloudUrl: cloud?.url ?? state.cloudUrl,
    ...(cloudCa ? { cloudCa } : {}),
    ...(cloud?.proxy ? { proxyUrl: cloud.proxy } : {}),
    roles,
    version: packageVersion(),
    logger: log,
    jobConcurrency: cloud?.jobConcurrency ?? 2 * availableParallelism(),
    jobTimeoutMs: (cloud?.jobTimeoutSeconds ?? 600) * 1000,
    healthIntervalMs: (cloud?.health.intervalSeconds ?? 60) * 1000,
    ...(cloud?.health.probeUrl
      ? { probe: { url: cloud.health.probeUrl, timeoutMs: cloud.health.probeTimeoutMs } }
      : {}),
    renewFraction: cloud?.renewAtFraction ?? 2 / 3,
    pingIntervalMs: (cloud?.pingIntervalSeconds ?? 20) * 1000,
    handshakeTimeoutMs: (cloud?.handshakeTimeoutSeconds ?? 15) * 1000,
    backoff: { baseMs: cloud?.backoff.baseMs ?? 500, capMs: cloud?.backoff.capMs ?? 60_000 },
  };
}

async function startLink(
  service: LinkService,
  config: OutpostConfig,
  appliance: LinkedAppliance,
  shutdown: ShutdownManager,
  log: Logger,
): Promise<void> {
  for (const handler of jobHandlers(config, service, appliance)) service.registerJobHandler(handler);
  for (const applier of configAppliers(appliance)) service.registerConfigApplier(applier);
  for (const source of healthSources(config, appliance)) service.registerHealthSource(source);
  if (appliance.gateway) service.registerJobHandler(sessionRevokeHandler(appliance.gateway));
  const reconfigurer = appliance.reconfigurer;
  if (reconfigurer) {
    // The cloud's keys verify SCEP challenges and gateway bearer tokens (unless the host set its own).
    const file = join(linkDir(config.dataDir), LinkFiles.jwks);
    service.registerJwksConsumer({
      update: async (jwks) => {
        try {
          await reconfigurer.useCloudJwks(file, jwks.issuer);
        } catch (e) {
          log.error({ err: e }, 'the cloud JWKS was not applied; the previous keys stay in use');
        }
      },
    });
  }
  shutdown.register('cloud link', () => service.stop());
  await service.start();
  log.info({ jobKinds: service.jobKinds() }, 'cloud link handlers registered');
}

/** The connector's jobs run against its current core (a reconfigure swaps it). */
function jobHandlers(config: OutpostConfig, service: LinkService, appliance: LinkedAppliance): JobHandler[] {
  const connector = appliance.connector;
  if (!connector) return [];
  return connectorJobHandlers({
    dataDir: config.dataDir,
    authority: {
      issueDirect: (...args) => connector.core().authority.issueDirect(...args),
    },
    revocation: { revoke: (...args) => connector.core().revocation.revoke(...args) },
    inventory: {
      byRequester: (...args) => connector.core().inventory.byRequester(...args),
      bySerial: (...args) => connector.core().inventory.bySerial(...args),
    },
    checkpoints: service.checkpoints,
    // The chain of the CA that issues (cfssl or an upstream SCEP CA when configured), not the built-in one.
    caChain: () => connector.core().backend.caChain(),
  });
}

/** Pushed `gateway` / `connector` sections go through the same validation and in-place apply as SIGHUP. */
function configAppliers(appliance: LinkedAppliance): ConfigApplier[] {
  const reconfigurer = appliance.reconfigurer;
  if (!reconfigurer) return [];
  return ['gateway', 'connector'].map((section) => ({
    section,
    apply: async (version: number, value: unknown) => {
      await reconfigurer.applyPushed(section, version, value);
    },
  }));
}

function healthSources(config: OutpostConfig, appliance: LinkedAppliance): HealthSource[] {
  const sources: HealthSource[] = [];
  const { gateway, connector } = appliance;
  if (gateway) sources.push(gatewayHealthSource(config, gateway.sessions));
  if (connector) {
    sources.push(
      connectorHealthSource(
        () => connector.core().backend,
        async () => (await connector.core().state.health()).ok,
      ),
    );
  }
  return sources;
}
