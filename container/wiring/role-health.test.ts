import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { connectorHealthSource, gatewayHealthSource } from './role-health.js';

describe('gatewayHealthSource', () => {
  it('reports sessions and throughput since the previous report; no certificate yet is null', async () => {
    const config = loadConfig({ overrides: { dataDir: mkdtempSync(join(tmpdir(), 'outpost-health-')) } });
    const live = [{ bytesIn: 1000, bytesOut: 500 }];
    let now = 0;
    const source = gatewayHealthSource(config, { size: 1, list: () => live }, () => now);
    now = 2000;
    live[0] = { bytesIn: 5000, bytesOut: 2500 };
    expect(await source.collect()).toEqual({
      sessions: 1,
      throughput: { rxBytesPerSecond: 2000, txBytesPerSecond: 1000 },
      tlsCertExpiry: null,
    });
    now = 4000;
    live.length = 0; // the session ended: its bytes leave the sum, which is not negative traffic
    expect((await source.collect()).throughput).toEqual({ rxBytesPerSecond: 0, txBytesPerSecond: 0 });
  });
});

describe('connectorHealthSource', () => {
  it.each([
    ['a backend without health: the database decides', undefined, true, true],
    ['a backend that answers', async () => ({ ok: true }), true, true],
    ['a backend that is down', async () => ({ ok: false, detail: 'refused' }), true, false],
    ['a backend whose check throws', async () => Promise.reject(new Error('boom')), true, false],
  ])('%s', async (_name, health, dbOpen, reachable) => {
    const backend = health ? { health } : {};
    const source = connectorHealthSource(
      () => backend,
      async () => dbOpen,
    );
    expect(await source.collect()).toEqual({ caReachable: reachable });
  });
});
