import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import type { OutpostConfig } from '../config/schema.js';
import { PushedConfigStore } from './pushed-config-store.js';
import { Reconfigurer } from './reconfigurer.js';

function setup(options: { failConnector?: boolean } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-reconf-'));
  const load = (pushed: Record<string, unknown>) => loadConfig({ overrides: { dataDir }, pushed });
  const calls: Array<{ role: string; config: OutpostConfig }> = [];
  const role = (name: string, fail = false) => ({
    reconfigure: async (config: OutpostConfig) => {
      if (fail) throw new Error(`${name} refused`);
      calls.push({ role: name, config });
    },
  });
  const store = new PushedConfigStore(dataDir);
  const reconfigurer = new Reconfigurer({
    current: load({}),
    load,
    roles: { gateway: role('gateway'), connector: role('connector', options.failConnector) },
    store,
    logger: pino({ level: 'silent' }),
  });
  return { reconfigurer, calls, store, load };
}

describe('Reconfigurer', () => {
  it('applies a pushed gateway section live, saves it 0600, and reports the version', async () => {
    const { reconfigurer, calls, store } = setup();
    const outcome = await reconfigurer.applyPushed('gateway', 7, { dns: { servers: ['10.9.9.9'] } });
    expect(outcome).toEqual({ applied: ['gateway.dns.servers'], pendingRestart: [] });
    expect(calls.map((c) => c.role)).toEqual(['gateway']);
    expect(calls[0]!.config.gateway.dns.servers).toEqual(['10.9.9.9']);
    expect(reconfigurer.appliedVersion()).toBe(7);
    expect(store.read()).toEqual({ version: 7, sections: { gateway: { dns: { servers: ['10.9.9.9'] } } } });
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
  });

  it('keeps pool changes for the restart and still applies the rest', async () => {
    const { reconfigurer } = setup();
    const outcome = await reconfigurer.applyPushed('gateway', 2, {
      pool: { ipv4: '10.77.0.0/24' },
      timers: { dpd: 45 },
    });
    expect(outcome.pendingRestart).toEqual(['gateway.pool.ipv4']);
    expect(outcome.applied).toEqual(['gateway.timers.dpd']);
  });

  it('refuses an invalid push with the schema message and keeps the running config and version', async () => {
    const { reconfigurer, calls, store } = setup();
    await reconfigurer.applyPushed('gateway', 1, { timers: { dpd: 30 } });
    await expect(reconfigurer.applyPushed('gateway', 2, { timers: { dpd: 'soon' } })).rejects.toMatchObject({
      code: 'OUTPOST_ERR_CONFIG',
      message: expect.stringContaining('gateway.timers.dpd'),
    });
    expect(reconfigurer.appliedVersion()).toBe(1);
    expect(store.read()?.version).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('refuses sections the cloud does not own', async () => {
    const { reconfigurer } = setup();
    await expect(reconfigurer.applyPushed('dataDir', 1, '/tmp')).rejects.toMatchObject({
      code: 'OUTPOST_ERR_CONFIG',
    });
  });

  it('a role that refuses leaves the version where it was', async () => {
    const { reconfigurer, calls } = setup({ failConnector: true });
    await expect(
      reconfigurer.applyPushed('connector', 3, { profiles: { device: { validityDays: 30 } } }),
    ).rejects.toThrow('connector refused');
    expect(reconfigurer.appliedVersion()).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('runs one change at a time, in order', async () => {
    const { reconfigurer, calls } = setup();
    await Promise.all([
      reconfigurer.applyPushed('gateway', 1, { timers: { dpd: 31 } }),
      reconfigurer.applyPushed('gateway', 2, { timers: { dpd: 32 } }),
    ]);
    expect(calls.map((c) => c.config.gateway.timers.dpd)).toEqual([31, 32]);
    expect(reconfigurer.appliedVersion()).toBe(2);
  });

  it('uses the cloud JWKS where the host set none, and reloads the roles on a key rotation', async () => {
    const { reconfigurer, calls } = setup();
    await reconfigurer.useCloudJwks('/data/link/cloud-jwks.json', 'https://cloud.test');
    expect(calls.map((c) => c.role)).toEqual(['connector', 'gateway']);
    expect(calls[1]!.config.connector.scep.challenge.jwks).toBe('/data/link/cloud-jwks.json');
    expect(calls[1]!.config.gateway.auth.token).toMatchObject({
      jwks: '/data/link/cloud-jwks.json',
      issuer: 'https://cloud.test',
    });
    // Same file, new keys: no config key changes, the roles still reload.
    await reconfigurer.useCloudJwks('/data/link/cloud-jwks.json', 'https://cloud.test');
    expect(calls).toHaveLength(4);
    // A later push keeps the cloud JWKS underneath.
    await reconfigurer.applyPushed('gateway', 3, { timers: { dpd: 40 } });
    expect(calls.at(-1)!.config.gateway.auth.token.jwks).toBe('/data/link/cloud-jwks.json');
  });

  it('leaves a JWKS the host configured alone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-reconf-'));
    const load = (pushed: Record<string, unknown>) =>
      loadConfig({
        overrides: { dataDir },
        env: { OUTPOST__connector__scep__challenge__jwks: '/etc/outpost/own-jwks.json' },
        pushed,
      });
    const calls: string[] = [];
    const reconfigurer = new Reconfigurer({
      current: load({}),
      load,
      roles: {
        connector: { reconfigure: async () => void calls.push('connector') },
        gateway: { reconfigure: async () => void calls.push('gateway') },
      },
      store: new PushedConfigStore(dataDir),
      logger: pino({ level: 'silent' }),
    });
    await reconfigurer.useCloudJwks('/data/link/cloud-jwks.json', 'https://cloud.test');
    expect(calls).toEqual(['gateway']);
  });
});
