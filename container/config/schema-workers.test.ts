import { availableParallelism } from 'node:os';
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

const perCpu = Math.min(availableParallelism(), 64);

// One meaning in every role: how many processes carry the load; 1 = the appliance process,
// auto = one per CPU; default 1.
describe.each([
  ['gateway.workers', 'OUTPOST__gateway__workers', (c: ReturnType<typeof loadConfig>) => c.gateway.workers],
  [
    'connector.scep.workers',
    'OUTPOST__connector__scep__workers',
    (c: ReturnType<typeof loadConfig>) => c.connector.scep.workers,
  ],
])('%s', (key, variable, read) => {
  it('defaults to one process', () => {
    expect(read(loadConfig({ env: {} }))).toBe(1);
  });

  it.each([
    ['1', 1],
    ['4', 4],
    ['64', 64],
    ['auto', perCpu],
  ])('%s loads as %d processes', (value, count) => {
    expect(read(loadConfig({ env: { [variable]: value } }))).toBe(count);
  });

  it.each(['65', '-1', '1.5', 'many', 'true'])('%s is refused with what to write', (value) => {
    expect(problems({ [variable]: value })).toEqual([
      expect.stringMatching(
        new RegExp(`^${key.replace('.', '\\.')}: got .*expected a number of processes from 1 to 64, or auto`),
      ),
    ]);
  });
});

describe('connector.scep.workers: 0 (one per CPU before workers had one meaning)', () => {
  it('still loads as one per CPU, with a warning that says to write auto', () => {
    const warnings: string[] = [];
    const config = loadConfig({
      env: { OUTPOST__connector__scep__workers: '0' },
      onDeprecated: (w) => warnings.push(w),
    });
    expect(config.connector.scep.workers).toBe(perCpu);
    expect(warnings).toEqual([
      'connector.scep.workers: 0 is deprecated; write auto (workers counts processes in every role; auto is one per CPU, as 0 was)',
    ]);
  });

  it('gateway.workers: 0 was never valid and is still refused', () => {
    expect(problems({ OUTPOST__gateway__workers: '0' })).toEqual([
      expect.stringMatching(/^gateway\.workers: got 0, expected a number of processes from 1 to 64, or auto/),
    ]);
  });

  it('no warning for a config without deprecated values', () => {
    const warnings: string[] = [];
    loadConfig({ env: { OUTPOST__connector__scep__workers: 'auto' }, onDeprecated: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
  });
});

describe('gateway.workers', () => {
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
