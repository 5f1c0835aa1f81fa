import type { Command } from 'commander';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type CliDeps, emit, type GlobalOptions, withConnectorAdmin } from '../cli-context.js';
import { intInRange } from '../option-parsers.js';

const MAX_TTL_SECONDS = 30 * 86400;

export function registerScepVerbs(program: Command, deps: CliDeps): void {
  const scep = program.command('scep').description('SCEP enrollment');
  scep
    .command('challenge')
    .description('mint a one-time SCEP challenge; prints the challenge alone on one line')
    .option(
      '--ttl <seconds>',
      `lifetime in seconds (1-${MAX_TTL_SECONDS})`,
      intInRange(1, MAX_TTL_SECONDS),
      3600,
    )
    .option(
      '--profile <name>',
      'certificate profile the challenge is for (default: connector.defaultProfile)',
    )
    .option('--json', 'print {challenge, ttlSeconds, profile} as JSON')
    .addHelpText(
      'after',
      '\nExample: scepclient -server-url http://HOST:8080/scep -challenge "$(outpost scep challenge)" …',
    )
    .action(async (options: { ttl: number; profile?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const challenge = await withConnectorAdmin(deps, globals, (admin, config) => {
        if (options.profile !== undefined && !Object.hasOwn(config.connector.profiles, options.profile)) {
          const known = Object.keys(config.connector.profiles).join(', ');
          throw new OutpostError(ErrorCodes.notFound, `unknown profile ${options.profile} (known: ${known})`);
        }
        return admin.mintChallenge({
          ttlSeconds: options.ttl,
          ...(options.profile !== undefined ? { profile: options.profile } : {}),
        });
      });
      const data = { challenge, ttlSeconds: options.ttl, profile: options.profile ?? null };
      emit(deps, globals, data, () => `${challenge}\n`);
    });
}
