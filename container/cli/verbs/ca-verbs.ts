import { type Command, Option } from 'commander';
import { type CliDeps, emit, type GlobalOptions, withConnectorAdmin } from '../cli-context.js';
import { promptPassword } from '../prompt-password.js';

const KEY_ALGORITHMS = ['rsa-3072', 'rsa-2048', 'ec-p384'] as const;

interface ImportOptions {
  cert?: string;
  key?: string;
  pkcs12?: string;
  passwordFile?: string;
  force?: boolean;
}

/**
 * Either PEM files (--cert and --key) or a PKCS#12 file (FILE or --pkcs12) whose password comes
 * from --password-file or, on a terminal, a prompt; never a mix.
 */
function importSourceProblem(options: ImportOptions): string | undefined {
  const pem = options.cert !== undefined || options.key !== undefined;
  const p12 = options.pkcs12 !== undefined || options.passwordFile !== undefined;
  if (pem && p12) return 'use either --cert and --key, or a PKCS#12 file, not both';
  if (pem && (options.cert === undefined || options.key === undefined)) return '--cert and --key go together';
  if (p12 && options.pkcs12 === undefined) return '--password-file goes with a PKCS#12 file';
  if (!pem && !p12) return 'give --cert and --key, or a PKCS#12 file (FILE or --pkcs12)';
  return undefined;
}

/** The password from --password-file (read by the connector admin), else asked on the terminal. */
async function pkcs12Password(
  passwordFile: string | undefined,
  confirm: boolean,
): Promise<{ passwordFile: string } | { password: string }> {
  if (passwordFile !== undefined) return { passwordFile };
  const write = (text: string) => void process.stderr.write(text);
  return { password: await promptPassword(process.stdin, write, { what: 'PKCS#12', confirm }) };
}

function registerInit(ca: Command, deps: CliDeps): void {
  ca.command('init')
    .description(
      'create the built-in CA and its SCEP RA: keys in <dataDir>/ca, or generated inside the PKCS#11 ' +
        'token with keys.store pkcs11; prints the CA certificate',
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
    .description(
      'use an existing CA: a PKCS#12 file (from `outpost ca export` or any CA), or PEM certificate and key; ' +
        'with keys.store pkcs11 the keys go into the token; prints the CA certificate',
    )
    .argument('[file]', 'CA certificate and key (and an RA) as PKCS#12 (.p12/.pfx); same as --pkcs12')
    .option('--cert <file>', 'CA certificate (PEM)')
    .option('--key <file>', 'CA private key (PEM)')
    .option('--pkcs12 <file>', 'CA certificate and key as PKCS#12 (.p12/.pfx)')
    .option('--password-file <file>', 'file holding the PKCS#12 password (default: ask on the terminal)')
    .option('--force', 'replace an existing CA')
    .option('--json', 'print {caPem, raPem} as JSON')
    .action(async (file: string | undefined, options: ImportOptions, command: Command) => {
      if (file !== undefined && options.pkcs12 !== undefined && file !== options.pkcs12) {
        command.error('error: give the PKCS#12 file once (FILE or --pkcs12)', {
          exitCode: 2,
          code: 'outpost.usage',
        });
      }
      const chosen: ImportOptions = { ...options, ...(file !== undefined ? { pkcs12: file } : {}) };
      const problem = importSourceProblem(chosen);
      if (problem) command.error(`error: ${problem}`, { exitCode: 2, code: 'outpost.usage' });
      const globals = command.optsWithGlobals<GlobalOptions>();
      const password = chosen.pkcs12 ? await pkcs12Password(chosen.passwordFile, false) : {};
      const result = await withConnectorAdmin(deps, globals, (admin) =>
        admin.importCa({
          ...(chosen.cert ? { certFile: chosen.cert, keyFile: chosen.key } : {}),
          ...(chosen.pkcs12 ? { pkcs12File: chosen.pkcs12, ...password } : {}),
          force: chosen.force === true,
        }),
      );
      emit(deps, globals, result, () => result.caPem);
    });
}

function registerExport(ca: Command, deps: CliDeps): void {
  ca.command('export')
    .description(
      'write the CA and its SCEP RA with their private keys to a PKCS#12 file (0600), to move them to ' +
        'another node with `outpost ca import FILE` (keys.store file only: token keys never leave the token)',
    )
    .requiredOption('--pkcs12 <file>', 'the PKCS#12 file to write (PBES2/AES-256, SHA-256 MAC)')
    .option(
      '--password-file <file>',
      'file holding the password to protect it with (default: ask twice on the terminal)',
    )
    .option('--force', 'replace the file if it exists')
    .option('--json', 'print {file, caSubject} as JSON')
    .action(async (options: { pkcs12: string; passwordFile?: string; force?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const password = await pkcs12Password(options.passwordFile, true);
      const result = await withConnectorAdmin(deps, globals, (admin) =>
        admin.exportCa({ file: options.pkcs12, ...password, force: options.force === true }),
      );
      emit(deps, globals, result, () => `wrote the CA (${result.caSubject}) and its RA to ${result.file}\n`);
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
  registerExport(ca, deps);
  registerShow(ca, deps);
}
