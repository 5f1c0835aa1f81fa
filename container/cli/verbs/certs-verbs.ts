import { type Command, Option } from 'commander';
import { type RevocationReason, revocationReasons } from '../../../link/schema/revocation-reason.js';
import { type CliDeps, emit, type GlobalOptions, withConnectorAdmin } from '../cli-context.js';
import { intInRange, serialHex } from '../option-parsers.js';
import { certificateJson, certificatesTable, pendingJson, pendingTable } from '../render.js';

function registerList(certs: Command, deps: CliDeps): void {
  certs
    .command('list')
    .description('list issued certificates')
    .addOption(
      new Option('--status <status>', 'only certificates in this state').choices(['valid', 'revoked']),
    )
    .option('--limit <n>', 'at most this many (1-10000)', intInRange(1, 10_000), 100)
    .option('--json', 'print JSON')
    .action(async (options: { status?: 'valid' | 'revoked'; limit: number }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const records = await withConnectorAdmin(deps, globals, (admin) =>
        admin.listCertificates({
          limit: options.limit,
          ...(options.status ? { status: options.status } : {}),
        }),
      );
      emit(deps, globals, records.map(certificateJson), () => certificatesTable(records));
    });
}

function registerRevoke(certs: Command, deps: CliDeps): void {
  certs
    .command('revoke')
    .description('revoke a certificate by serial number (hex); it appears on the next CRL')
    .argument('<serial>', 'serial number in hex (colons allowed)', serialHex)
    .addOption(
      new Option('--reason <reason>', 'RFC 5280 reason').choices(revocationReasons).default('unspecified'),
    )
    .option('--json', 'print the revoked certificate as JSON')
    .action(async (serial: string, options: { reason: RevocationReason }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const record = await withConnectorAdmin(deps, globals, (admin) => admin.revoke(serial, options.reason));
      emit(
        deps,
        globals,
        certificateJson(record),
        () => `revoked ${record.serialHex} (${options.reason}) ${record.subject}\n`,
      );
    });
}

function registerPending(certs: Command, deps: CliDeps): void {
  certs
    .command('pending')
    .description('list requests waiting for manual approval')
    .option('--json', 'print JSON')
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const requests = await withConnectorAdmin(deps, globals, (admin) => admin.listPending());
      emit(deps, globals, requests.map(pendingJson), () => pendingTable(requests));
    });
}

function registerDecisions(certs: Command, deps: CliDeps): void {
  certs
    .command('approve')
    .description(
      'approve a pending request and issue its certificate (the device picks it up on its next poll)',
    )
    .argument('<txid>', 'SCEP transaction id (see `certs pending`)')
    .option('--json', 'print the issued certificate as JSON')
    .action(async (transactionId: string, _options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const record = await withConnectorAdmin(deps, globals, (admin) => admin.approve(transactionId));
      emit(deps, globals, certificateJson(record), () => `issued ${record.serialHex} ${record.subject}\n`);
    });
  certs
    .command('reject')
    .description('reject a pending request (the device is told on its next poll)')
    .argument('<txid>', 'SCEP transaction id (see `certs pending`)')
    .option('--json', 'print {transactionId, status} as JSON')
    .action(async (transactionId: string, _options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      await withConnectorAdmin(deps, globals, (admin) => admin.reject(transactionId));
      // The text form stays a note on stderr (nothing to capture); JSON is data on stdout.
      if (globals.json) emit(deps, globals, { transactionId, status: 'rejected' }, () => '');
      else deps.io.err(`rejected ${transactionId}\n`);
    });
}

export function registerCertsVerbs(program: Command, deps: CliDeps): void {
  const certs = program.command('certs').description('issued certificates and pending requests');
  registerList(certs, deps);
  registerRevoke(certs, deps);
  registerPending(certs, deps);
  registerDecisions(certs, deps);
}
