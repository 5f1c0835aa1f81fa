import { type Cidr, parseCidr, parseIpAddress } from '../pool/ip-address.js';

/** Two CIDRs share an address: one contains the other's network (blocks nest or are apart). */
export function blocksOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (x.family !== y.family) return false;
  return contains(x, y.network) || contains(y, x.network);
}

/** The first of `theirs` that overlaps one of `mine`, with it; undefined when apart. */
export function firstOverlap(
  mine: readonly string[],
  theirs: readonly string[],
): { mine: string; theirs: string } | undefined {
  for (const m of mine) {
    const t = theirs.find((block) => blocksOverlap(m, block));
    if (t !== undefined) return { mine: m, theirs: t };
  }
  return undefined;
}

/** Whether `address` lies in one of `blocks` (this node's pools: its own addresses). */
export function inBlocks(address: string, blocks: readonly string[]): boolean {
  const parsed = parseIpAddress(address);
  if (!parsed) return false;
  return blocks.some((block) => {
    const cidr = parsedBlock(block);
    return cidr.family === parsed.family && contains(cidr, parsed.value);
  });
}

/**
 * Blocks are the site's configured pools (a handful per node), asked about on every resume of a
 * failover storm: each is parsed once. Bounded all the same (a table that grows past the bound
 * starts afresh), since blocks also come from other nodes' rows.
 */
const parsedBlocks = new Map<string, Cidr>();
const PARSED_BLOCKS_KEPT = 1024;

function parsedBlock(block: string): Cidr {
  let cidr = parsedBlocks.get(block);
  if (!cidr) {
    cidr = parseCidr(block);
    if (parsedBlocks.size >= PARSED_BLOCKS_KEPT) parsedBlocks.clear();
    parsedBlocks.set(block, cidr);
  }
  return cidr;
}

function contains(cidr: Cidr, value: bigint): boolean {
  return value >= cidr.network && value < cidr.network + cidr.size;
}
