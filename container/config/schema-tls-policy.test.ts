import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

const variable = 'OUTPOST__gateway__tlsPolicy__tls13Tickets';

describe('gateway.tlsPolicy.tls13Tickets', () => {
  it('defaults to no TLS 1.3 ticket (no AnyConnect client resumes TLS 1.3)', () => {
    expect(loadConfig({ env: {} }).gateway.tlsPolicy.tls13Tickets).toBe(0);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['8', 8],
  ])('%s loads as %d tickets per handshake', (value, tickets) => {
    expect(loadConfig({ env: { [variable]: value } }).gateway.tlsPolicy.tls13Tickets).toBe(tickets);
  });

  it.each(['-1', '9', '1.5', 'yes'])('%s is refused', (value) => {
    expect(() => loadConfig({ env: { [variable]: value } })).toThrow(ConfigError);
  });
});
