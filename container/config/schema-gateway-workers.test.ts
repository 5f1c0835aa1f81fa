import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  return [];
}

describe('gateway.workers', () => {
  it('defaults to one process', () => {
    expect(loadConfig({ env: {} }).gateway.workers).toBe(1);
  });

  it.each([
    [{ OUTPOST__gateway__workers: '4' }, []],
    [{ OUTPOST__gateway__workers: '64', OUTPOST__gateway__tun__name: 'outpost0' }, []],
    [{ OUTPOST__gateway__workers: '0' }, [/gateway\.workers/]],
    [{ OUTPOST__gateway__workers: '65' }, [/gateway\.workers/]],
    [
      { OUTPOST__gateway__workers: '2', OUTPOST__gateway__tlsPolicy__recordLayer: 'openssl' },
      [/gateway\.tlsPolicy\.recordLayer.*expected outpost when gateway\.workers is more than 1/],
    ],
    [
      { OUTPOST__gateway__workers: '10', OUTPOST__gateway__tun__name: 'outpost-tunnel' },
      [/gateway\.tun\.name.*at most 13 characters with 10 workers.*outpost-tunnelw9/],
    ],
    // One process keeps every name the schema allowed before workers existed.
    [{ OUTPOST__gateway__tun__name: 'outpost-tunnel0' }, []],
  ])('%o', (env, expected) => {
    const found = problems(env);
    expect(found).toHaveLength(expected.length);
    for (const [i, pattern] of expected.entries()) expect(found[i]).toMatch(pattern);
  });
});
