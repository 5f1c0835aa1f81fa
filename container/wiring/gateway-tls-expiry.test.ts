import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { selfIssuedTlsNames } from './gateway-tls.js';
import { expiryCheck } from './gateway-tls-expiry.js';

const now = Date.parse('2026-12-01T00:00:00Z');
const inDays = (days: number) => new Date(now + days * 24 * 3600 * 1000);

describe('expiryCheck: /readyz warns 30 days before the served certificate expires', () => {
  it.each([
    ['a year left', inDays(365), true, /^expires 2027-12-01/],
    ['30 days left', inDays(30), true, /^expires/],
    ['29 days left', inDays(29.5), false, /expires in 29 days/],
    ['expired', inDays(-1), false, /expired on 2026-11-30/],
    ['unreadable', null, false, /cannot be read/],
  ])('%s', (_name, expiry, ok, detail) => {
    const result = expiryCheck(expiry, now);
    expect(result.ok).toBe(ok);
    expect(result.detail).toMatch(detail);
  });
});

describe('selfIssuedTlsNames', () => {
  it.each([
    // Docker's default host name is the container ID: the compose file sets OUTPOST_PUBLIC_HOST.
    ['the host name by default', {}, { dns: ['vpn.corp.example'], ip: [] }],
    [
      'plus a specific listen address',
      { OUTPOST__gateway__listen: '192.0.2.7:443' },
      { dns: ['vpn.corp.example'], ip: ['192.0.2.7'] },
    ],
    [
      'gateway.tls.names when set',
      { OUTPOST__gateway__tls__names: '[vpn.example.com, 198.51.100.1]' },
      { dns: ['vpn.example.com'], ip: ['198.51.100.1'] },
    ],
  ])('%s', (_name, env, names) => {
    expect(selfIssuedTlsNames(loadConfig({ env }), 'vpn.corp.example')).toEqual(names);
  });

  it.each([
    [
      'names and files together',
      { OUTPOST__gateway__tls: '{cert: /a.pem, key: /a.key, names: [a.example]}' },
    ],
    ['an empty list', { OUTPOST__gateway__tls__names: '[]' }],
    ['a name that is neither DNS nor IP', { OUTPOST__gateway__tls__names: '["bad name"]' }],
  ])('refuses %s', (_name, env) => {
    expect(() => loadConfig({ env })).toThrow(expect.objectContaining({ code: 'OUTPOST_ERR_CONFIG' }));
  });
});
