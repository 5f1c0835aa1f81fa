import { describe, expect, it } from 'vitest';
import { TrustedProxies } from './trusted-proxies.js';

describe('TrustedProxies', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', '2001:db8:1::/48']);

  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['2001:db8:1:ffff::1', true],
    ['2001:db8:2::1', false],
    ['11.0.0.1', false],
    [undefined, false],
    ['/run/outpost.sock', false],
  ])('%s → %s', (address, expected) => expect(trusted.contains(address)).toBe(expected));

  it('trusts nobody when empty', () => expect(new TrustedProxies([]).contains('127.0.0.1')).toBe(false));

  it('refuses a range it cannot parse', () =>
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(RangeError));
});
