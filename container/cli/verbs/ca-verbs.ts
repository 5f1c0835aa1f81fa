import { type Command, Option } from 'commander';
import { type CliDeps, emit, type GlobalOptions, withConnectorAdmin } from '../cli-context.js';

const KEY_ALGORITHMS = ['rsa-3072', 'rsa-2048', 'ec-p384'] as const;

interface ImportOptions {
  cert?: string;
  key?: string;
  pkcs12?: string;
  passwordFile?: string;
  force?: boolean;
}

/** Either PEM files (--cert and --key) or a PKCS#12 file with its password file; never a mix. */
function importSourceProblem(options: ImportOptions): string | undefined {
  const pem = options.cert !== undefined || options.key !== undefined;
  const p12 = options.pkcs12 !== undefined || options.passwordFile !== undefined;
  if (pem && p12) return 'use either --cert and --key, or --pkcs12 and --password-file, not both';
  if (pem && (options.cert === undefined || options.key === undefined)) return '--cert and --key go together';
  if (p12 && (options.pkcs12 === undefined || options.passwordFile === undefined)) {
    return '--pkcs12 needs --password-file (and the reverse)';
  }
  if (!pem && !p12) return 'give --cert and --key, or --pkcs12 and --password-file';
  return undefined;
}

function registerInit(ca: Command, deps: CliDeps): void {
  ca.command('init')
    .description(
      'create the built-in CA and its RA certificate in the data directory; prints the CA certificate',
    )
    .addOption(
      new Option(
        '--key-algorithm <algorithm>',
        'CA key algorithm (default: connector.ca.keyAlgorithm)',
      ).choices(KEY_ALGORITHMS),
    )
    .option('--force', 'replace an existing CA (certificates it issued stop validating)')
    .option('--json', 'print {caPem, raPem} as JSON')
    .action(
      async (
        options: { keyAlgorithm?: (typeof KEY_ALGORITHMS)[number]; force?: boolean },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const result = await withConnectorAdmin(deps, globals, (admin, config) =>
          admin.initCa({
            keyAlgorithm: options.keyAlgorithm ?? config.connector.ca.keyAlgorithm,
            force: options.force === true,
          }),
        );
        emit(deps, globals, result, () => result.caPem);
      },
    );
}

function registerImport(ca: Command, deps: CliDeps): void {
  ca.command('import')
    .description('use an existing CA: PEM certificate and key, or a PKCS#12 file; prints the CA certificate')
    .option('--cert <file>', 'CA certificate (PEM)')
    .option('--key <file>', 'CA private key (PEM)')
    .option('--pkcs12 <file>', 'CA certificate and key as PKCS#12 (.p12/.pfx)')
    .option('--password-file <file>', 'file holding the PKCS#12 password')
    .option('--force', 'replace an existing CA')
    .option('--json', 'print {caPem, raPem} as JSON')
    .action(async (options: ImportOptions, command: Command) => {
      const problem = importSourceProblem(options);
      if (problem) command.error(`error: ${problem}`, { exitCode: 2, code: 'outpost.usage' });
      const globals = command.optsWithGlobals<GlobalOptions>();
      const result = await withConnectorAdmin(deps, globals, (admin) =>
        admin.importCa({
          ...(options.cert ? { certFile: options.cert, keyFile: options.key } : {}),
          ...(options.pkcs12 ? { pkcs12File: options.pkcs12, passwordFile: options.passwordFile } : {}),
          force: options.force === true,
        }),
      );
      emit(deps, globals, result, () => result.caPem);
    });
}

function registerShow(ca: Command, deps: CliDeps): void {
  ca.command('show')
    .description('show the CA certificate: subject, expiry, fingerprint, key type and PEM')
    .option('--pem', 'print the PEM certificate only')
    .option('--json', 'print JSON')
    .action(async (options: { pem?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const info = await withConnectorAdmin(deps, globals, (admin) => admin.caInfo());
      if (options.pem && !globals.json) {
        deps.io.out(info.caPem);
        return;
      }
      emit(deps, globals, { ...info, notAfter: info.notAfter.toISOString() }, () =>
        [
          `subject:      ${info.subject}`,
          `not after:    ${info.notAfter.toISOString()}`,
          `sha-256:      ${info.fingerprintSha256}`,
          `key type:     ${info.keyType}`,
          info.caPem,
        ].join('\n'),
      );
    });
}

export function registerCaVerbs(program: Command, deps: CliDeps): void {
  const ca = program.command('ca').description('manage the certificate authority');
  registerInit(ca, deps);
  registerImport(ca, deps);
  registerShow(ca, deps);
}
