import type { AddressAllocator } from '../../gateway/control/ports.js';
import { AddressPool } from '../../gateway/pool/address-pool.js';
import { parseCidr } from '../../gateway/pool/ip-address.js';
import { WorkerAddressSlices } from '../../gateway/pool/worker-slices.js';

/**
 * One configured pool (the gateway's, or a group's own) as the role uses it: the allocator that
 * hands out a session's addresses, the prefix lengths clients are told, and the AddressPools to
 * expire. With one process it is an AddressPool per family; with tunnel workers, the pool cut
 * into per-worker blocks (gateway/pool/worker-slices.ts).
 */
export interface PoolSet {
  readonly ipv4: string;
  readonly ipv6: string | null;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number | undefined;
  readonly addresses: AddressAllocator;
  readonly pools: AddressPool[];
  /** Gateway addresses: the first usable of each family (the TUN's own). */
  readonly gateway: { ipv4: string; ipv6: string | undefined };
  /** With workers: the blocks worker i routes into its TUN. */
  routesOf?(worker: number): { ipv4: string[]; ipv6: string[] };
}

export function poolSet(config: { ipv4: string; ipv6: string | null }, workers: number): PoolSet {
  return workers <= 1 ? singlePoolSet(config) : slicedPoolSet(config, workers);
}

function singlePoolSet(config: { ipv4: string; ipv6: string | null }): PoolSet {
  const pool4 = new AddressPool(config.ipv4);
  const pool6 = config.ipv6 ? new AddressPool(config.ipv6) : undefined;
  return {
    ipv4: config.ipv4,
    ipv6: config.ipv6,
    ipv4PrefixLength: pool4.prefixLength,
    ipv6PrefixLength: pool6?.prefixLength,
    gateway: { ipv4: pool4.gatewayAddress, ipv6: pool6?.gatewayAddress },
    addresses: allocator(pool4, pool6),
    pools: pool6 ? [pool4, pool6] : [pool4],
  };
}

/** Clients are still told the whole pool's prefix; the blocks are the gateway's own business. */
function slicedPoolSet(config: { ipv4: string; ipv6: string | null }, workers: number): PoolSet {
  const slices = new WorkerAddressSlices(config, workers);
  return {
    ipv4: config.ipv4,
    ipv6: config.ipv6,
    ipv4PrefixLength: parseCidr(config.ipv4).prefixLength,
    ipv6PrefixLength: config.ipv6 ? parseCidr(config.ipv6).prefixLength : undefined,
    gateway: slices.gatewayAddresses,
    addresses: {
      allocate: (sessionId, preferred) => slices.allocate(sessionId, preferred?.ipv4),
      release: (sessionId, keepMs) => slices.release(sessionId, keepMs),
    },
    pools: slices.pools,
    routesOf: (worker) => slices.routesOf(worker),
  };
}

/** Both families of a session from a pair of pools. */
function allocator(pool4: AddressPool, pool6: AddressPool | undefined): AddressAllocator {
  return {
    allocate(sessionId, preferred) {
      const ipv4 = pool4.allocate(sessionId, prefer(preferred?.ipv4)).address;
      const ipv6 = pool6?.allocate(sessionId, prefer(preferred?.ipv6)).address;
      return ipv6 ? { ipv4, ipv6 } : { ipv4 };
    },
    release(sessionId, keepMs) {
      pool4.release(sessionId, { keepForMs: keepMs });
      pool6?.release(sessionId, { keepForMs: keepMs });
    },
  };
}

function prefer(address: string | undefined): { preferred?: string } {
  return address === undefined ? {} : { preferred: address };
}
