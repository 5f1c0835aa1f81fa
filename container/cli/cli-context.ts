import type { Logger } from 'pino';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorAdmin } from '../connector-admin.js';
import type { ShutdownManager } from '../shutdown.js';
import type { CliIo } from './cli-io.js';

export type OpenConnectorAdmin = (config: OutpostConfig, logger: Logger) => Promise<ConnectorAdmin>;
export type StartAppliance = (
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
  options?: ApplianceStartOptions,
) => Promise<void>;

export interface ApplianceStartOptions {
  /** Rebuilds the config from its sources with the given cloud-pushed sections (SIGHUP, cloud pushes). */
  load?: (pushed: Record<string, unknown>) => OutpostConfig;
}

/** What the CLI depends on; tests replace the wiring with fakes. */
export interface CliDeps {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  openConnectorAdmin?: OpenConnectorAdmin;
  startAppliance?: StartAppliance;
}

/** Options every verb sees: the program's own plus the verb's --json. */
export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  json?: boolean;
}

/** Loaded on demand: zod and yaml are not needed for `--help`. */
export async function loadCliConfig(deps: CliDeps, globals: GlobalOptions): Promise<OutpostConfig> {
  return (await cliConfigLoader(deps, globals))();
}

/**
 * The config as the command line asked for it, optionally with sections the cloud pushed laid
 * over the file: `outpost run` reloads through this on SIGHUP and on a cloud config push.
 */
export async function cliConfigLoader(
  deps: CliDeps,
  globals: GlobalOptions,
): Promise<(pushed?: Record<string, unknown>) => OutpostConfig> {
  const { loadConfig } = await import('../config/load-config.js');
  return (pushed) =>
    loadConfig({
      env: deps.env,
      ...(globals.config ? { file: globals.config } : {}),
      overrides: globals.dataDir ? { dataDir: globals.dataDir } : {},
      ...(pushed ? { pushed } : {}),
      // stderr, before any logger exists: stdout stays data (config check, --json).
      onDeprecated: (warning) => deps.io.err(`warning: ${warning}\n`),
    });
}

/**
 * Admin verbs log to stderr, and only warnings unless debugging was asked for: their stdout is
 * data and their stderr should stay readable.
 */
async function verbLogger(config: OutpostConfig): Promise<Logger> {
  const [{ createLogger }, { pino }] = await Promise.all([import('../log.js'), import('pino')]);
  const verbose = config.log.level === 'debug' || config.log.level === 'trace';
  return createLogger({
    level: verbose ? config.log.level : 'warn',
    destination: pino.destination({ dest: 2, sync: true }),
  }).child({ component: 'cli' });
}

async function defaultOpenConnectorAdmin(config: OutpostConfig, logger: Logger): Promise<ConnectorAdmin> {
  const { openConnectorAdmin } = await import('../wiring/connector-admin-factory.js');
  return openConnectorAdmin(config, logger);
}

/** Opens the connector, runs one admin operation, always closes it. */
export async function withConnectorAdmin<T>(
  deps: CliDeps,
  globals: GlobalOptions,
  operation: (admin: ConnectorAdmin, config: OutpostConfig) => Promise<T>,
): Promise<T> {
  const config = await loadCliConfig(deps, globals);
  const { ensureDataDir } = await import('../data-dir.js');
  ensureDataDir(config.dataDir);
  const logger = await verbLogger(config);
  const admin = await (deps.openConnectorAdmin ?? defaultOpenConnectorAdmin)(config, logger);
  try {
    return await operation(admin, config);
  } finally {
    await admin.close();
  }
}

/** Data verbs print either JSON (one document) or the human-readable text. */
export function emit(deps: CliDeps, globals: GlobalOptions, data: unknown, text: () => string): void {
  deps.io.out(globals.json ? `${JSON.stringify(data, null, 2)}\n` : text());
}
