import { type Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { CliDeps, GlobalOptions } from '../cli-context.js';
import { intInRange } from '../option-parsers.js';

interface CloudVerbOptions {
  listen: string;
  issuer?: string;
  clientCertDays: number;
  pingInterval: number;
  reassignGrace: number;
  logLevel?: string;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DEFAULT_DATA_DIR = './cloud-data';

/**
 * The program parses --data-dir wherever it stands, so the cloud reads the global option; its help
 * shows it with the cloud's meaning, and not --config, which the control plane does not read.
 */
const cloudGlobalOptions = [
  new Option(
    '-d, --data-dir <dir>',
    `state of the control plane: CA, signing key, admin token, database (default: ${DEFAULT_DATA_DIR})`,
  ),
];

function logLevel(text: string): string {
  if (!LEVELS.includes(text)) throw new InvalidArgumentError(`expected one of ${LEVELS.join(', ')}`);
  return text;
}

/**
 * `outpost cloud`: the reference control plane (cloud/) in the foreground, JSON logs on stdout, until
 * SIGTERM/SIGINT. Its state (CA, signing key, admin token, SQLite) lives in --data-dir.
 */
export function registerCloudVerb(program: Command, deps: CliDeps): void {
  program
    .command('cloud')
    .description('run the reference cloud control plane (enrollment, link, admin API, JWKS) over HTTPS')
    .option('--listen <host:port>', 'HTTPS listen address', '127.0.0.1:7443')
    .option('--issuer <url>', 'iss of the tokens it mints (default: https://<listen>)')
    .option('--client-cert-days <days>', 'validity of appliance link certificates', intInRange(1, 825), 30)
    .option('--ping-interval <seconds>', 'link ping interval (dead sockets are cut)', intInRange(1, 3600), 30)
    .option(
      '--reassign-grace <seconds>',
      'how long jobs offered to a disconnected appliance wait for it before going to another',
      intInRange(0, 86_400),
      30,
    )
    .option('--log-level <level>', 'log level (default: OUTPOST_LOG_LEVEL or info)', logLevel)
    .configureHelp({ showGlobalOptions: true, visibleGlobalOptions: () => cloudGlobalOptions })
    .addHelpText(
      'after',
      `\nState lives in --data-dir (default ${DEFAULT_DATA_DIR}): ca.pem is what appliances trust.`,
    )
    .action(async (options: CloudVerbOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const [{ createLogger }, { ShutdownManager }, { parseListenAddress }, { startCloud }] =
        await Promise.all([
          import('../../log.js'),
          import('../../shutdown.js'),
          import('../../config/listen-address.js'),
          import('../../../cloud/cloud-server.js'),
        ]);
      const where = parseListenAddress(options.listen);
      if (!where) throw new OutpostError(ErrorCodes.config, `--listen: invalid address ${options.listen}`);
      const level = (options.logLevel ?? deps.env.OUTPOST_LOG_LEVEL ?? 'info') as LevelWithSilent;
      const logger = createLogger({ level });
      const shutdown = new ShutdownManager({ logger });
      shutdown.installSignalHandlers();
      try {
        const cloud = await startCloud({
          host: where.host,
          port: where.port,
          dataDir: globals.dataDir ?? DEFAULT_DATA_DIR,
          logger,
          clientCertDays: options.clientCertDays,
          pingIntervalMs: options.pingInterval * 1000,
          reassignGraceMs: options.reassignGrace * 1000,
          ...(options.issuer ? { issuer: options.issuer } : {}),
        });
        shutdown.register('cloud', cloud.close);
      } catch (e) {
        shutdown.removeSignalHandlers();
        throw e;
      }
    });
}
