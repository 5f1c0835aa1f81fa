/**
 * Masquerade for tunnel traffic (gateway.nat: true): packets from the pool leaving through any
 * interface but the TUN get the host's address. Each family has its own nftables table named
 * `outpost`, replaced atomically: one `nft -f` transaction creates the table (if missing), deletes
 * it and recreates it, so applying twice or removing twice never fails and never leaves half a
 * ruleset.
 */
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseCidr } from '../pool/ip-address.js';
import type { CommandRunner } from './command-runner.js';

export const NAT_TABLE = 'outpost';

export interface NatConfig {
  readonly tunName: string;
  readonly ipv4Pool: string;
  /** With an IPv6 pool (usually ULA), NAT66 masquerade as well; absent removes any earlier ip6 table. */
  readonly ipv6Pool?: string | null | undefined;
  /** nftables table name; default `outpost` (tests use their own). */
  readonly table?: string;
}

function familyTable(family: 'ip' | 'ip6', table: string, pool: string, tunName: string): string {
  const selector = family === 'ip' ? 'ip saddr' : 'ip6 saddr';
  return [
    `table ${family} ${table} {}`,
    `delete table ${family} ${table}`,
    `table ${family} ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ${selector} ${pool} oifname != "${tunName}" masquerade`,
    '  }',
    '}',
  ].join('\n');
}

function removal(family: 'ip' | 'ip6', table: string): string {
  return `table ${family} ${table} {}\ndelete table ${family} ${table}`;
}

function checkedTable(table: string | undefined): string {
  const name = table ?? NAT_TABLE;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(name)) {
    throw new OutpostError(ErrorCodes.config, 'invalid nftables table name', { detail: name });
  }
  return name;
}

/** The nft script for `config`; validated here because it is interpolated into a ruleset. */
export function natScript(config: NatConfig): string {
  // A trailing * matches every worker's TUN (`outpost0w*`, gateway.workers > 1): nftables wildcard.
  if (!/^[A-Za-z0-9_.-]{1,15}\*?$/.test(config.tunName)) {
    throw new OutpostError(ErrorCodes.config, 'invalid TUN interface name', { detail: config.tunName });
  }
  const v4 = parseCidr(config.ipv4Pool);
  const v6 = config.ipv6Pool ? parseCidr(config.ipv6Pool) : undefined;
  if (v4.family !== 4 || (v6 && v6.family !== 6)) {
    throw new OutpostError(ErrorCodes.config, 'NAT pool of the wrong address family', {
      detail: `${config.ipv4Pool} ${config.ipv6Pool ?? ''}`,
    });
  }
  const table = checkedTable(config.table);
  const parts = [familyTable('ip', table, config.ipv4Pool, config.tunName)];
  parts.push(
    config.ipv6Pool ? familyTable('ip6', table, config.ipv6Pool, config.tunName) : removal('ip6', table),
  );
  return `${parts.join('\n')}\n`;
}

export function removeNatScript(table?: string): string {
  const name = checkedTable(table);
  return `${removal('ip', name)}\n${removal('ip6', name)}\n`;
}

export async function applyNat(run: CommandRunner, config: NatConfig): Promise<void> {
  await run('nft', ['-f', '-'], { input: natScript(config) });
}

export async function removeNat(run: CommandRunner, table?: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: removeNatScript(table) });
}
