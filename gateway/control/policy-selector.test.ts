import { describe, expect, it } from 'vitest';
import type { GatewayPolicy } from './gateway-policy.js';
import { type GroupPolicy, policySelector } from './policy-selector.js';

const base: GatewayPolicy = {
  serverName: 'Outpost',
  dns: [],
  defaultDomain: null,
  splitDns: [],
  splitInclude: [],
  splitExclude: [],
  ipv4PrefixLength: 24,
  timers: {
    dpd: 90,
    mobileDpd: 1800,
    keepalive: 30,
    idle: 1800,
    mobileIdle: null,
    session: 3600,
    cookie: 300,
    rekey: 172800,
  },
};
const allocator = (tag: string) => ({ allocate: () => ({ ipv4: tag }), release: () => undefined });
const group = (name: string, groups: string[], users: string[] = []): GroupPolicy => ({
  name,
  groups,
  users,
  policy: { ...base, dns: [name] },
  addresses: allocator(name),
});

describe('policySelector', () => {
  const select = policySelector(
    [group('admins', ['VPN-Admins']), group('devices', ['Devices'], ['kiosk-1'])],
    {
      policy: base,
      addresses: allocator('default'),
    },
  );

  it.each([
    [['vpn-admins', 'Devices'], 'alice', 'admins'],
    [['devices'], 'bob', 'devices'],
    [[], 'KIOSK-1', 'devices'],
    [['others'], 'carol', 'default'],
  ])('groups %j, user %s → %s', (groups, username, expected) => {
    const chosen = select({ username, groups, method: 'password' });
    expect(chosen.addresses.allocate('x').ipv4).toBe(expected);
  });
});
