import { describe, expect, it } from 'vitest';
import { changedPaths, classifyChanges } from './config-diff.js';

describe('changedPaths', () => {
  it.each([
    ['equal trees', { a: { b: 1, c: [1, 2] } }, { a: { b: 1, c: [1, 2] } }, []],
    ['a leaf', { a: { b: 1 } }, { a: { b: 2 } }, ['a.b']],
    ['an array as one value', { r: { include: ['10.0.0.0/8'] } }, { r: { include: [] } }, ['r.include']],
    ['a new section, key by key', { g: {} }, { g: { x: { pool: 1, dns: 2 } } }, ['g.x.dns', 'g.x.pool']],
    ['a removed section, key by key', { g: { x: { pool: 1 } } }, { g: {} }, ['g.x.pool']],
    ['null to a value', { cloud: null }, { cloud: { url: 'u' } }, ['cloud']],
    ['array of objects', { l: [{ a: 1 }] }, { l: [{ a: 2 }] }, ['l']],
  ])('%s', (_name, before, after, expected) => {
    expect(changedPaths(before, after)).toEqual(expected);
  });
});

describe('classifyChanges', () => {
  it('sends kernel-owned and location keys to restart, the rest live', () => {
    expect(
      classifyChanges([
        'gateway.dns.servers',
        'gateway.pool.ipv4',
        'gateway.groups.eng.pool',
        'gateway.groups.eng.dns',
        'gateway.listen',
        'connector.profiles.device.validityDays',
        'dataDir',
        'log.level',
        'cloud.url',
      ]),
    ).toEqual({
      live: [
        'gateway.dns.servers',
        'gateway.groups.eng.dns',
        'gateway.listen',
        'connector.profiles.device.validityDays',
      ],
      restart: ['gateway.pool.ipv4', 'gateway.groups.eng.pool', 'dataDir', 'log.level', 'cloud.url'],
    });
  });
});
