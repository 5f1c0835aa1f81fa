import type { Command } from 'commander';
import { type CliDeps, emit, type GlobalOptions, loadCliConfig } from '../cli-context.js';

export function registerConfigVerbs(program: Command, deps: CliDeps): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description(
      'validate the configuration; print the effective config (defaults, file, environment) with secrets masked',
    )
    .option('--json', 'print JSON instead of YAML')
    .addHelpText('after', '\nExit status 2 and one line per problem when the configuration is invalid.')
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const effective = await loadCliConfig(deps, globals);
      const [{ maskSecrets }, { stringify }] = await Promise.all([
        import('../../config/mask-secrets.js'),
        import('yaml'),
      ]);
      const masked = maskSecrets(effective);
      emit(deps, globals, masked, () => stringify(masked));
    });
}
