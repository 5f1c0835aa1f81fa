import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type CliDeps, emit, type GlobalOptions, loadCliConfig } from '../cli-context.js';

/** A password or a PEM key is small; a bigger input is a mistake (wrong file, binary). */
const MAX_SECRET_INPUT = 64 * 1024;

/** Reads a small file, refusing big ones; `what` names it in the error. */
async function readSmallFile(path: string, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (cause) {
    throw new OutpostError(ErrorCodes.notFound, `cannot read the ${what} file ${path}`, { cause });
  }
  if (data.length > MAX_SECRET_INPUT) throw new OutpostError(ErrorCodes.limit, `the ${what} file is too big`);
  return data;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_SECRET_INPUT) throw new OutpostError(ErrorCodes.limit, 'the password on stdin is too big');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `echo pw > file` and `printf pw` both work: one trailing line break is not part of the password. */
function passwordText(data: Buffer): string {
  return data.toString('utf8').replace(/\r?\n$/, '');
}

function registerExportKey(pfx: Command, deps: CliDeps): void {
  pfx
    .command('export-key')
    .description(
      "print the connector's PFX import public key (PEM; created on first use in DATA/pkcs/import.key) and its key id",
    )
    .option('--out <file>', 'write the PEM to this file and print only the key id')
    .option('--json', 'print {keyId, publicKeyPem} as JSON')
    .addHelpText(
      'after',
      '\nThe key id (SHA-256 of the public key) goes into the importKeyId of a cert.pfx.import job.\n' +
        'Admins encrypt PFX passwords to this key with `outpost pfx encrypt --key FILE`.',
    )
    .action(async (options: { out?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const [{ ensureDataDir }, { ImportKey }] = await Promise.all([
        import('../../data-dir.js'),
        import('../../../connector/pkcs/import-key.js'),
      ]);
      ensureDataDir(config.dataDir);
      const key = await ImportKey.open(config.dataDir);
      if (options.out) await writeFile(options.out, key.publicKeyPem, { mode: 0o644 });
      emit(deps, globals, { keyId: key.id, publicKeyPem: key.publicKeyPem }, () =>
        options.out ? `${key.id}\n` : key.publicKeyPem,
      );
      if (!options.out && !globals.json) deps.io.err(`key id: ${key.id}\n`);
    });
}

function registerEncrypt(pfx: Command, deps: CliDeps): void {
  pfx
    .command('encrypt')
    .description(
      'encrypt a PFX password to the import key (RSA-OAEP-SHA512); prints the base64 ciphertext for encryptedPassword',
    )
    .requiredOption('--key <file>', 'the import public key (PEM), from `outpost pfx export-key`')
    .option('--password-file <file>', 'file holding the PFX password (default: read it from stdin)')
    .option('--json', 'print {encryptedPassword, importKeyId} as JSON')
    .addHelpText(
      'after',
      '\nExample: outpost pfx encrypt --key import.pem --password-file pw.txt\n' +
        'One trailing line break is ignored. Runs offline: no data directory or config is needed.',
    )
    .action(async (options: { key: string; passwordFile?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const { encryptImportPassword } = await import('../../../connector/pkcs/import-password.js');
      const keyPem = (await readSmallFile(options.key, 'import key')).toString('utf8');
      const secret = options.passwordFile
        ? await readSmallFile(options.passwordFile, 'password')
        : await readStdin();
      const { ciphertext, keyId } = encryptImportPassword(keyPem, passwordText(secret));
      secret.fill(0);
      const encryptedPassword = ciphertext.toString('base64');
      emit(deps, globals, { encryptedPassword, importKeyId: keyId }, () => `${encryptedPassword}\n`);
      if (!globals.json) deps.io.err(`import key id: ${keyId}\n`);
    });
}

export function registerPfxVerbs(program: Command, deps: CliDeps): void {
  const pfx = program
    .command('pfx')
    .description('PFX (PKCS#12) import for S/MIME: the import key admins encrypt PFX passwords to');
  registerExportKey(pfx, deps);
  registerEncrypt(pfx, deps);
}
