import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { OutpostConfig } from '../../config/schema.js';
import type { ShutdownManager } from '../../shutdown.js';
import { type CliDeps, type GlobalOptions, loadCliConfig, type StartAppliance } from '../cli-context.js';

async function defaultStartAppliance(
  config: OutpostConfig,
  logger: Logger,
  shutdown: ShutdownManager,
): Promise<void> {
  const { startAppliance } = await import('../../wiring/appliance.js');
  return startAppliance(config, logger, shutdown);
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
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const [{ createLogger }, { ShutdownManager }, { ensureDataDir }] = await Promise.all([
        import('../../log.js'),
        import('../../shutdown.js'),
        import('../../data-dir.js'),
      ]);
      ensureDataDir(config.dataDir);
      const logger = createLogger({ level: config.log.level });
      const shutdown = new ShutdownManager({ logger });
      shutdown.installSignalHandlers();
      exitOnFatal(logger, shutdown);
      logger.info(
        { roles: config.roles, dataDir: config.dataDir, admin: config.admin.listen },
        'starting outpost',
      );
      try {
        await (deps.startAppliance ?? start)(config, logger, shutdown);
      } catch (e) {
        // Close whatever did start (ports, database) before reporting the failure.
        await shutdown.run('start-up failed');
        shutdown.removeSignalHandlers();
        throw e;
      }
    });
}
