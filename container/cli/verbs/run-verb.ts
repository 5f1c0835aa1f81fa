import type { Command } from 'commander';
import type { Logger } from 'pino';
import { toOutpostError } from '../../../core/errors.js';
import type { OutpostConfig } from '../../config/schema.js';
import type { ShutdownManager } from '../../shutdown.js';
import {
  type ApplianceStartOptions,
  type CliDeps,
  cliConfigLoader,
  type GlobalOptions,
  loadCliConfig,
  type StartAppliance,
} from '../cli-context.js';
import { exitCodeFor } from '../exit-codes.js';

async function defaultStartAppliance(
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
  options?: ApplianceStartOptions,
): Promise<void> {
  const { startAppliance } = await import('../../wiring/appliance.js');
  await startAppliance(config, logger, shutdown, options);
}

/**
 * The config the appliance starts with: the file's, with what the cloud pushed last laid over it.
 * A stored push that no longer validates (say, after an upgrade) is logged and left out, so the
 * appliance still starts on its own file.
 */
async function withPushedConfig(
  fileConfig: OutpostConfig,
  load: (pushed?: Record<string, unknown>) => OutpostConfig,
  logger: Logger,
): Promise<OutpostConfig> {
  const { PushedConfigStore } = await import('../../reconfigure/pushed-config-store.js');
  const pushed = new PushedConfigStore(fileConfig.dataDir).read();
  if (!pushed) return fileConfig;
  try {
    return load(pushed.sections);
  } catch (e) {
    logger.error(
      { err: e, version: pushed.version },
      'the stored cloud config is invalid; starting from the file',
    );
    return fileConfig;
  }
}

/** A crash after start-up still closes what can be closed, then exits 1. */
function exitOnFatal(logger: Logger, shutdown: ShutdownManager): void {
  const fatal = (kind: string) => (err: unknown) => {
    logger.fatal({ err }, kind);
    void shutdown.run(kind).finally(() => process.exit(1));
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
}

export function registerRunVerb(
  program: Command,
  deps: CliDeps,
  start: StartAppliance = defaultStartAppliance,
): void {
  program
    .command('run')
    .description('start the appliance (the roles in the config) and run until SIGTERM/SIGINT')
    .addHelpText(
      'after',
      '\nListens on: connector.scep.listen (SCEP, CRL, OCSP; default 0.0.0.0:8080), gateway.listen\n' +
        '(VPN; default 0.0.0.0:8443), admin.listen (read-only probes /healthz /readyz /metrics, no\n' +
        'authentication; default 127.0.0.1:9090) and admin.api (the admin API for `outpost sessions`:\n' +
        'the Unix socket <dataDir>/admin.sock, mode 0600, by default; TCP only with admin.api.listen;\n' +
        'every request needs the token in <dataDir>/admin-token).',
    )
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const load = await cliConfigLoader(deps, globals);
      const fileConfig = await loadCliConfig(deps, globals);
      const [{ createLogger }, { ShutdownManager }, { ensureDataDir, makeDataDirPrivate }] =
        await Promise.all([import('../../log.js'), import('../../shutdown.js'), import('../../data-dir.js')]);
      ensureDataDir(fileConfig.dataDir);
      const logger = createLogger({ level: fileConfig.log.level });
      const narrowed = makeDataDirPrivate(fileConfig.dataDir);
      if (narrowed > 0)
        logger.warn(
          { dataDir: fileConfig.dataDir, entries: narrowed },
          'data directory entries narrowed to 0600/0700',
        );
      const config = await withPushedConfig(fileConfig, load, logger);
      const shutdown = new ShutdownManager({ logger });
      shutdown.installSignalHandlers();
      exitOnFatal(logger, shutdown);
      logger.info(
        { roles: config.roles, dataDir: config.dataDir, admin: config.admin.listen },
        'starting outpost',
      );
      try {
        await (deps.startAppliance ?? start)(config, logger, shutdown, { load: (pushed) => load(pushed) });
      } catch (e) {
        // Close whatever did start (ports, database) before reporting the failure; the log line
        // carries the exit status the CLI returns for this error.
        await shutdown.run('start-up failed', exitCodeFor(toOutpostError(e)));
        shutdown.removeSignalHandlers();
        throw e;
      }
    });
}
