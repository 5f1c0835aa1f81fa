import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type CliDeps, emit, type GlobalOptions, loadCliConfig } from '../cli-context.js';
import { intInRange } from '../option-parsers.js';

interface EnrollVerbOptions {
  cloud: string;
  token: string;
  role?: 'gateway' | 'connector' | 'both';
  cloudCa?: string;
  proxy?: string;
  timeout: number;
  force?: boolean;
  json?: boolean;
}

function httpsUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === 'https:' || url.protocol === 'wss:') return text;
  } catch {
    // falls through
  }
  throw new InvalidArgumentError('expected an https:// URL');
}

function proxyUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return text;
  } catch {
    // falls through
  }
  throw new InvalidArgumentError('expected an http:// or https:// proxy URL');
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new OutpostError(ErrorCodes.config, `cannot read the cloud CA file ${file}`, { cause });
  }
}

/**
 * `outpost enroll`: joins this appliance to a cloud control plane with a one-time token. Afterwards
 * `outpost run` with the same data directory connects by itself (DATA/link/).
 */
export function registerEnrollVerb(program: Command, deps: CliDeps): void {
  program
    .command('enroll')
    .description('enroll this appliance with the cloud control plane (one-time token → link certificate)')
    .requiredOption('--cloud <url>', 'base URL of the cloud, e.g. https://cloud.example:7443', httpsUrl)
    .requiredOption('--token <token>', 'one-time enrollment token from the cloud admin')
    .addOption(
      new Option('--role <role>', 'roles to enroll for (default: the configured roles)').choices([
        'gateway',
        'connector',
        'both',
      ]),
    )
    .option('--cloud-ca <file>', "CA bundle of the cloud's HTTPS certificate (pinned for the link)")
    .option('--proxy <url>', 'HTTP(S) proxy to reach the cloud through (CONNECT)', proxyUrl)
    .option('--timeout <seconds>', 'time limit of the enrollment request', intInRange(1, 600), 30)
    .option('--force', 'replace an existing enrollment')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nWrites DATA/link/agent.key (0600), agent.pem, cloud-ca.pem and link.json.\n' +
        'Example: outpost enroll --cloud https://cloud.example:7443 --token "$TOKEN" --cloud-ca ca.pem',
    )
    .action(async (options: EnrollVerbOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const [{ ensureDataDir }, { enroll }, { isEnrolled }] = await Promise.all([
        import('../../data-dir.js'),
        import('../../../link/enroll/enroll.js'),
        import('../../../link/enroll/agent-files.js'),
      ]);
      ensureDataDir(config.dataDir);
      if (isEnrolled(config.dataDir) && !options.force) {
        throw new OutpostError(
          ErrorCodes.conflict,
          `${config.dataDir} is already enrolled; add --force to enroll again`,
        );
      }
      const roles =
        options.role === undefined
          ? config.roles
          : options.role === 'both'
            ? ['gateway', 'connector']
            : [options.role];
      const caFile = options.cloudCa ?? config.cloud?.ca;
      const proxy = options.proxy ?? config.cloud?.proxy;
      const result = await enroll({
        cloudUrl: options.cloud,
        token: options.token,
        roles: roles as Array<'gateway' | 'connector'>,
        dataDir: config.dataDir,
        timeoutMs: options.timeout * 1000,
        ...(caFile ? { cloudCa: readCa(caFile) } : {}),
        ...(proxy ? { proxyUrl: proxy } : {}),
      });
      const data = {
        applianceId: result.applianceId,
        cloud: result.cloudUrl,
        roles: result.roles,
        certificateNotAfter: result.notAfter.toISOString(),
        dataDir: config.dataDir,
      };
      emit(
        deps,
        { ...globals, ...(options.json ? { json: true } : {}) },
        data,
        () =>
          `enrolled as ${data.applianceId} (${data.roles.join(', ')}) with ${data.cloud}\n` +
          `link certificate valid until ${data.certificateNotAfter}; start with: outpost run\n`,
      );
    });
}
