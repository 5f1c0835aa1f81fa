import { describe, expect, it } from 'vitest';
import { createGatewayPools, tunAddresses } from './gateway-pools.js';

describe('createGatewayPools', () => {
  it('builds the configured families and the TUN addresses', () => {
    const pools = createGatewayPools({ ipv4: '10.200.100.0/24', ipv6: 'fd00:200::/112' });
    expect(tunAddresses(pools)).toEqual({
      ipv4: { address: '10.200.100.1', prefixLength: 24 },
      ipv6: { address: 'fd00:200::1', prefixLength: 112 },
    });
  });

  it('has no IPv6 pool when ipv6 is null', () => {
    const pools = createGatewayPools({ ipv4: '10.200.100.0/24', ipv6: null });
    expect(pools.ipv6).toBeUndefined();
    expect(tunAddresses(pools).ipv6).toBeUndefined();
  });
});
