import { Command, CommanderError } from 'commander';
import { toOutpostError } from '../../core/errors.js';
import type { CliDeps } from './cli-context.js';
import { EXIT_CONFIG, EXIT_OK, exitCodeFor } from './exit-codes.js';
import { packageVersion } from './package-version.js';
import { renderError } from './render-error.js';
import { registerCaVerbs } from './verbs/ca-verbs.js';
import { registerCertsVerbs } from './verbs/certs-verbs.js';
import { registerCloudVerb } from './verbs/cloud-verb.js';
import { registerConfigVerbs } from './verbs/config-verbs.js';
import { registerEnrollVerb } from './verbs/enroll-verb.js';
import { registerPfxVerbs } from './verbs/pfx-verbs.js';
import { registerRunVerb } from './verbs/run-verb.js';
import { registerScepVerbs } from './verbs/scep-verbs.js';
import { registerSessionsVerbs } from './verbs/sessions-verbs.js';

/**
 * The `outpost` command tree. Only commander and the verb definitions load here; each verb
 * imports what it needs (zod, yaml, pino, fastify, the connector) when it runs, so `--help`
 * starts fast.
 */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('outpost')
    .description('Outpost on-premises appliance: SCEP certificate connector and VPN gateway')
    .version(packageVersion(), '-V, --version')
    .option(
      '-c, --config <file>',
      'YAML config file (default: embedded defaults; see config/outpost.example.yaml)',
    )
    .option('-d, --data-dir <dir>', 'data directory (overrides dataDir and OUTPOST_DATA_DIR)')
    // Every verb's --help lists --config and --data-dir too (set before the verbs: they copy it).
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      '\nEnvironment: OUTPOST_DATA_DIR, OUTPOST_LOG_LEVEL, OUTPOST__section__key=value (any config key).\n' +
        'Exit status: 0 ok, 1 failure, 2 invalid config or usage, 3 not found, 4 conflict.',
    );
  registerRunVerb(program, deps);
  registerConfigVerbs(program, deps);
  registerCaVerbs(program, deps);
  registerScepVerbs(program, deps);
  registerCertsVerbs(program, deps);
  registerPfxVerbs(program, deps);
  registerSessionsVerbs(program, deps);
  registerCloudVerb(program, deps);
  registerEnrollVerb(program, deps);
  return program;
}

function configureForCli(command: Command, deps: CliDeps): void {
  command.exitOverride();
  command.configureOutput({ writeOut: deps.io.out, writeErr: deps.io.err });
  for (const sub of command.commands) configureForCli(sub, deps);
}

/** Runs one command line and returns the exit status (it never calls process.exit itself). */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const program = buildProgram(deps);
  configureForCli(program, deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    // Commander has already printed its message (usage errors) or the help text.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_CONFIG;
    const error = toOutpostError(e);
    deps.io.err(renderError(error, argv.includes('--json')));
    return exitCodeFor(error);
  }
}
