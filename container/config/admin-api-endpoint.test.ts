import { describe, expect, it } from 'vitest';
import { adminApiEndpoint } from './admin-api-endpoint.js';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('admin.api', () => {
  it.each([
    ['default: admin.sock in the data directory', {}, { socket: '/srv/outpost/admin.sock' }],
    [
      'a relative socket is taken from the data directory',
      { OUTPOST__admin__api__socket: 'gw.sock' },
      { socket: '/srv/outpost/gw.sock' },
    ],
    [
      'an absolute socket as given',
      { OUTPOST__admin__api__socket: '/run/outpost/api.sock' },
      { socket: '/run/outpost/api.sock' },
    ],
    [
      'TCP only when listen is given',
      { OUTPOST__admin__api__listen: '127.0.0.1:9091' },
      { listen: '127.0.0.1:9091' },
    ],
  ])('%s', (_name, env, expected) => {
    const config = loadConfig({ env: { OUTPOST_DATA_DIR: '/srv/outpost', ...env } });
    expect(adminApiEndpoint(config)).toEqual(expected);
  });

  it.each([
    [
      { OUTPOST__admin__api__socket: 'a.sock', OUTPOST__admin__api__listen: '127.0.0.1:9091' },
      'expected either socket or listen, not both',
    ],
    [{ OUTPOST__admin__api__listen: '127.0.0.1:9090' }, 'expected an address other than admin.listen'],
    [{ OUTPOST__admin__api__socket: `/${'s'.repeat(120)}` }, 'expected a socket path of at most 107 bytes'],
    [{ OUTPOST__admin__api__listen: 'localhost' }, 'admin.api.listen'],
    [{ OUTPOST__admin__api__port: '1' }, 'unknown key admin.api.port'],
  ])('refuses %j', (env, message) => {
    expect(problems(env).join('\n')).toContain(message);
  });
});
