import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import { Readiness, type ReadinessCheck } from './readiness.js';

const silent = pino({ level: 'silent' });
let server: AdminServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(checks: Record<string, ReadinessCheck> = {}, registry = new Registry()) {
  const readiness = new Readiness(100);
  for (const [name, check] of Object.entries(checks)) readiness.register(name, check);
  server = await startAdminServer({ listen: '127.0.0.1:0', registry, readiness, logger: silent });
  return `http://127.0.0.1:${server.address.port}`;
}

describe('admin server', () => {
  it('GET /healthz answers 200 ok', async () => {
    const response = await fetch(`${await start()}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it.each([
    ['no checks', {}, 200, {}],
    ['all ok', { db: async () => ({ ok: true }) }, 200, { db: { ok: true } }],
    [
      'one failing',
      { db: async () => ({ ok: true }), ca: async () => ({ ok: false, detail: 'no CA yet' }) },
      503,
      { db: { ok: true }, ca: { ok: false, detail: 'no CA yet' } },
    ],
    [
      'a check throws (internal detail hidden)',
      { db: () => Promise.reject(new Error('/secret/path')) },
      503,
      { db: { ok: false, detail: 'check failed' } },
    ],
    [
      'a check throws an OutpostError',
      { db: () => Promise.reject(new OutpostError(ErrorCodes.unavailable, 'database closed')) },
      503,
      { db: { ok: false, detail: 'database closed' } },
    ],
    [
      'a check hangs',
      { link: () => new Promise<never>(() => {}) },
      503,
      { link: { ok: false, detail: 'no answer within 100 ms' } },
    ],
  ] as const)('GET /readyz: %s → %d', async (_name, checks, status, results) => {
    const response = await fetch(`${await start(checks)}/readyz`);
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({
      status: status === 200 ? 'ready' : 'not ready',
      checks: results,
    });
  });

  it.each([
    ['no gateway role', undefined, 404],
    ['healthy', { healthy: true, sessions: 3 }, 200],
    ['draining', { healthy: false, reasons: ['draining'] }, 503],
  ] as const)('GET /healthz/gateway: %s → %d', async (_name, health, status) => {
    const readiness = new Readiness(100);
    server = await startAdminServer({
      listen: '127.0.0.1:0',
      registry: new Registry(),
      readiness,
      logger: silent,
      ...(health ? { gatewayHealth: () => health } : {}),
    });
    const response = await fetch(`http://127.0.0.1:${server.address.port}/healthz/gateway`);
    expect(response.status).toBe(status);
    if (health) expect(await response.json()).toEqual(health);
  });

  it('GET /metrics serves the registry with process metrics', async () => {
    const registry = new Registry();
    const { Counter } = await import('prom-client');
    new Counter({ name: 'outpost_test_total', help: 'test', registers: [registry] }).inc(3);
    const response = await fetch(`${await start({}, registry)}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('outpost_test_total 3');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('can share one registry between two servers', async () => {
    const registry = new Registry();
    await start({}, registry);
    const second = await startAdminServer({
      listen: '127.0.0.1:0',
      registry,
      readiness: new Readiness(),
      logger: silent,
    });
    await second.close();
  });

  it.each([['an invalid address', 'nonsense', ErrorCodes.config]])(
    'refuses %s',
    async (_name, listen, code) => {
      await expect(
        startAdminServer({ listen, registry: new Registry(), readiness: new Readiness(), logger: silent }),
      ).rejects.toMatchObject({ code });
    },
  );

  it('reports a port in use as unavailable', async () => {
    await start();
    const listen = `127.0.0.1:${server!.address.port}`;
    await expect(
      startAdminServer({ listen, registry: new Registry(), readiness: new Readiness(), logger: silent }),
    ).rejects.toMatchObject({ code: ErrorCodes.unavailable });
  });
});
