/**
 * Brings the TUN interface up the way the gateway needs it: the pool's gateway address with the
 * pool's prefix (so the kernel routes the whole pool into the TUN), the MTU, and link up. Uses
 * `ip ... replace`, so running it again (a restart, a persistent TUN) is harmless.
 */
import type { CommandRunner } from './command-runner.js';

export interface InterfaceAddress {
  /** The gateway's own address in the pool, e.g. 10.200.100.1. */
  readonly address: string;
  /** The pool's prefix length, e.g. 24. */
  readonly prefixLength: number;
}

export interface TunInterfaceConfig {
  readonly name: string;
  readonly mtu: number;
  readonly ipv4: InterfaceAddress;
  readonly ipv6?: InterfaceAddress | undefined;
}

/** The `ip` invocations, in order; exported for tests and for `outpost` to print on --dry-run. */
export function tunInterfaceCommands(config: TunInterfaceConfig): string[][] {
  const { name } = config;
  const commands = [
    ['link', 'set', 'dev', name, 'mtu', String(config.mtu)],
    ['-4', 'addr', 'replace', `${config.ipv4.address}/${config.ipv4.prefixLength}`, 'dev', name],
  ];
  if (config.ipv6) {
    // nodad: the address is usable at once instead of staying "tentative" for about a second.
    commands.push([
      '-6',
      'addr',
      'replace',
      `${config.ipv6.address}/${config.ipv6.prefixLength}`,
      'dev',
      name,
      'nodad',
    ]);
  }
  commands.push(['link', 'set', 'dev', name, 'up']);
  return commands;
}

export async function configureTunInterface(run: CommandRunner, config: TunInterfaceConfig): Promise<void> {
  for (const args of tunInterfaceCommands(config)) await run('ip', args);
}
