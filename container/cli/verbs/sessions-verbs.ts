import type { Command } from 'commander';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { OutpostConfig } from '../../config/schema.js';
import { type CliDeps, emit, type GlobalOptions, loadCliConfig } from '../cli-context.js';
import { table } from '../render.js';

interface SessionRow {
  id: string;
  user: string;
  method: string;
  state: string;
  ipv4: string | null;
  remoteAddress: string;
  bytesIn: number;
  bytesOut: number;
}

interface BanRow {
  address: string;
  score: number;
  until: string;
}

/** Sessions live in the running appliance: these verbs ask its local admin API (admin.api). */
async function adminRequest(config: OutpostConfig, path: string, body?: unknown): Promise<unknown> {
  const { adminApiRequest } = await import('../admin-api-client.js');
  return adminApiRequest(config, path, body);
}

export function registerSessionsVerbs(program: Command, deps: CliDeps): void {
  const sessions = program
    .command('sessions')
    .description(
      'VPN sessions of the running gateway, through its admin API (admin.api: the Unix socket <dataDir>/admin.sock by default)',
    );
  sessions
    .command('list')
    .description('list the gateway sessions')
    .option('--json', 'print JSON')
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const rows = (await adminRequest(config, '/v1/sessions')) as SessionRow[];
      emit(deps, globals, rows, () =>
        table(
          ['ID', 'USER', 'METHOD', 'STATE', 'ADDRESS', 'REMOTE', 'IN', 'OUT'],
          rows.map((r) => [
            r.id,
            r.user,
            r.method,
            r.state,
            r.ipv4 ?? '-',
            r.remoteAddress,
            String(r.bytesIn),
            String(r.bytesOut),
          ]),
        ),
      );
    });
  sessions
    .command('drain')
    .description(
      'drain mode: no new sessions, /readyz and /healthz/gateway answer 503 so a load balancer sends no new clients, open tunnels continue (on); accept again (off)',
    )
    .argument('<state>', 'on or off')
    .option(
      '--migrate',
      'with on: also stop accepting and end every open tunnel without a disconnect message, so each client reconnects with its cookie (behind a balancer: to another node of the site)',
    )
    .option('--json', 'print JSON')
    .action(async (state: string, options: { migrate?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (state !== 'on' && state !== 'off')
        throw new OutpostError(ErrorCodes.badRequest, 'state must be on or off');
      if (options.migrate && state !== 'on')
        throw new OutpostError(ErrorCodes.badRequest, '--migrate goes with drain on');
      const config = await loadCliConfig(deps, globals);
      const result = (await adminRequest(config, '/v1/sessions/drain', {
        on: state === 'on',
        migrate: options.migrate === true,
      })) as { drain: boolean; migrated: number };
      emit(deps, globals, result, () =>
        options.migrate ? `drain on, ${result.migrated} tunnel(s) sent to reconnect\n` : `drain ${state}\n`,
      );
    });
  sessions
    .command('disconnect')
    .description('end a session (or every session of a user) now; its cookie is refused from then on')
    .argument('[id]', 'session id (see `sessions list`)')
    .option('--user <user>', 'every session of this user')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, options: { user?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (!id === !options.user)
        throw new OutpostError(ErrorCodes.badRequest, 'give a session id or --user, not both');
      const config = await loadCliConfig(deps, globals);
      const result = (await adminRequest(
        config,
        '/v1/sessions/disconnect',
        id ? { id } : { user: options.user },
      )) as {
        disconnected: number;
      };
      emit(deps, globals, result, () => `disconnected ${result.disconnected} session(s)\n`);
    });
  sessions
    .command('bans')
    .description(
      'source addresses banned after failed attempts (ocserv-style ban points), with when each ban ends',
    )
    .option('--json', 'print JSON')
    .action(async (_options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const rows = (await adminRequest(config, '/v1/sessions/bans')) as BanRow[];
      emit(deps, globals, rows, () =>
        table(
          ['ADDRESS', 'POINTS', 'UNTIL'],
          rows.map((r) => [r.address, String(r.score), r.until]),
        ),
      );
    });
  sessions
    .command('unban')
    .description('lift the ban on an address (or a listed IPv6 prefix) now; its points start again from zero')
    .argument('<address>', 'the address, as `sessions bans` lists it or as the client connects from')
    .option('--json', 'print JSON')
    .action(async (address: string, _options, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = await loadCliConfig(deps, globals);
      const result = (await adminRequest(config, '/v1/sessions/bans/lift', { address })) as {
        lifted: number;
      };
      emit(deps, globals, result, () =>
        result.lifted ? `ban on ${address} lifted\n` : `${address} had no ban or points\n`,
      );
    });
}
