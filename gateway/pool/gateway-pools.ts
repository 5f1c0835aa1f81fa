/**
 * The gateway's pools from `gateway.pool` ({ ipv4, ipv6 }): one AddressPool per configured family,
 * plus the addresses the TUN interface gets (each pool's gateway address with the pool's prefix).
 */
import { AddressPool, type AddressPoolOptions } from './address-pool.js';

export interface PoolConfig {
  readonly ipv4: string;
  readonly ipv6?: string | null | undefined;
}

export interface GatewayPools {
  readonly ipv4: AddressPool;
  readonly ipv6: AddressPool | undefined;
}

export function createGatewayPools(config: PoolConfig, options: AddressPoolOptions = {}): GatewayPools {
  return {
    ipv4: new AddressPool(config.ipv4, options),
    ipv6: config.ipv6 ? new AddressPool(config.ipv6, options) : undefined,
  };
}

/** `{ address, prefixLength }` of the TUN for each family, as gateway/net's configureTunInterface takes it. */
export function tunAddresses(pools: GatewayPools) {
  const of = (pool: AddressPool) => ({ address: pool.gatewayAddress, prefixLength: pool.prefixLength });
  return { ipv4: of(pools.ipv4), ipv6: pools.ipv6 ? of(pools.ipv6) : undefined };
}
