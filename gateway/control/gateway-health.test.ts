import { describe, expect, it } from 'vitest';
import { type GatewayHealthInput, gatewayHealth, type UnhealthyReason } from './gateway-health.js';

const fine: GatewayHealthInput = {
  draining: false,
  tunUp: true,
  workers: { running: 2, configured: 2 },
  sessions: 10,
  healthySessions: 4990,
  pools: [
    { cidr: '10.200.100.0/24', capacity: 253, active: 10 },
    { cidr: 'fd00::/112', capacity: 65533, active: 10 },
  ],
};

describe('gatewayHealth', () => {
  it.each<[string, Partial<GatewayHealthInput>, UnhealthyReason[]]>([
    ['healthy', {}, []],
    ['drain', { draining: true }, ['draining']],
    ['a TUN gone', { tunUp: false }, ['tun-down']],
    ['a worker down', { workers: { running: 1, configured: 2 } }, ['workers-down']],
    ['one session below the ceiling', { sessions: 4989 }, []],
    ['at the ceiling', { sessions: 4990 }, ['session-ceiling']],
    [
      'a pool with every address active',
      { pools: [{ cidr: '10.200.110.0/30', capacity: 1, active: 1 }] },
      ['pool-exhausted'],
    ],
    [
      'several at once, in a fixed order',
      { draining: true, tunUp: false, sessions: 5000 },
      ['draining', 'tun-down', 'session-ceiling'],
    ],
  ])('%s', (_, change, reasons) => {
    const health = gatewayHealth({ ...fine, ...change });
    expect(health.reasons).toEqual(reasons);
    expect(health.healthy).toBe(reasons.length === 0);
  });

  it('reports the fewest addresses left in any pool', () => {
    expect(gatewayHealth(fine).poolAddressesLeft).toBe(243);
  });
});
