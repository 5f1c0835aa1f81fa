/**
 * Pool blocks of other nodes of a site, carried here while sessions resumed from them run on this
 * node (gateway/site): each block is routed into this node's TUN and, with NAT, masqueraded like
 * the node's own pool (nftables table `outpost_site`, a set per family that holds the blocks).
 */
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseCidr } from '../pool/ip-address.js';
import type { CommandRunner } from './command-runner.js';

export const SITE_NAT_TABLE = 'outpost_site';

export interface ForeignBlockRoutes {
  /** Creates the NAT table (when NAT is on); before any add. */
  setup(): Promise<void>;
  add(cidr: string): Promise<void>;
  remove(cidr: string): Promise<void>;
  /** Removes the NAT table (the routes go with the TUN). */
  close(): Promise<void>;
}

function natTable(family: 'ip' | 'ip6', tunName: string): string {
  const [type, selector] = family === 'ip' ? ['ipv4_addr', 'ip saddr'] : ['ipv6_addr', 'ip6 saddr'];
  return [
    `table ${family} ${SITE_NAT_TABLE} {}`,
    `delete table ${family} ${SITE_NAT_TABLE}`,
    `table ${family} ${SITE_NAT_TABLE} {`,
    `  set foreign { type ${type}; flags interval; }`,
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    `    ${selector} @foreign oifname != "${tunName}" masquerade`,
    '  }',
    '}',
  ].join('\n');
}

export function foreignBlockRoutes(
  run: CommandRunner,
  options: { tunName: string; nat: boolean },
): ForeignBlockRoutes {
  const { tunName, nat } = options;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tunName)) {
    throw new OutpostError(ErrorCodes.config, 'invalid TUN interface name', { detail: tunName });
  }
  /** Checked and normalized: the text goes into an ip command line and an nft script. */
  const parsed = (cidr: string) => {
    const block = parseCidr(cidr);
    return { cidr, family: block.family === 4 ? ('ip' as const) : ('ip6' as const) };
  };
  return {
    async setup() {
      if (!nat) return;
      await run('nft', ['-f', '-'], { input: `${natTable('ip', tunName)}\n${natTable('ip6', tunName)}\n` });
    },
    async add(cidr) {
      const block = parsed(cidr);
      await run('ip', [block.family === 'ip' ? '-4' : '-6', 'route', 'replace', block.cidr, 'dev', tunName]);
      if (nat) {
        await run('nft', ['add', 'element', block.family, SITE_NAT_TABLE, 'foreign', `{ ${block.cidr} }`]);
      }
    },
    async remove(cidr) {
      const block = parsed(cidr);
      const quiet = () => undefined;
      await run('ip', [
        block.family === 'ip' ? '-4' : '-6',
        'route',
        'del',
        block.cidr,
        'dev',
        tunName,
      ]).catch(quiet);
      if (nat) {
        await run('nft', [
          'delete',
          'element',
          block.family,
          SITE_NAT_TABLE,
          'foreign',
          `{ ${block.cidr} }`,
        ]).catch(quiet);
      }
    },
    async close() {
      if (!nat) return;
      const removal = (family: string) =>
        `table ${family} ${SITE_NAT_TABLE} {}\ndelete table ${family} ${SITE_NAT_TABLE}`;
      await run('nft', ['-f', '-'], { input: `${removal('ip')}\n${removal('ip6')}\n` }).catch(
        () => undefined,
      );
    },
  };
}
