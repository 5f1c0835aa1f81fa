import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectorHttp } from '../../connector/scep/http/connector-http.js';
import type { ScepOperations } from '../../connector/scep/http/scep-operations.js';
import type { ScepRa } from '../../connector/scep/http/scep-ra.js';
import { registerScepRoutes } from '../../connector/scep/http/scep-routes.js';
import { createConnectorMetrics } from './connector-metrics.js';

// Only GetCACaps and refused requests are sent: neither reaches the RA nor the SCEP operations.
const unused = {} as ScepRa & ScepOperations;

async function scepApp(ratePerClientPerMinute: number) {
  const registry = new Registry();
  const metrics = createConnectorMetrics(registry, { count: async () => 0 });
  const limits = { maxBodyBytes: 1024, ratePerClientPerMinute, maxConcurrent: 8 };
  const app = createConnectorHttp({ maxBodyBytes: limits.maxBodyBytes, requestTimeoutMs: 5000 });
  registerScepRoutes(app, {
    path: '/scep',
    ra: unused,
    operations: unused,
    limits,
    logger: pino({ level: 'silent' }),
    metrics,
  });
  await app.ready();
  return { app, registry };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

describe('SCEP metrics and rate limit against unauthenticated requests', () => {
  it('labels operations from a fixed set: 2,000 made-up operations add no series', async () => {
    const { app, registry } = await scepApp(0);
    close = () => app.close();
    for (let i = 0; i < 2000; i++) {
      const res = await app.inject({ url: `/scep?operation=op-${i}` });
      expect(res.statusCode).toBe(400);
    }
    await app.inject({ url: '/scep?operation=GetCACaps' });
    const text = await registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('outpost_scep_requests_total{'));
    expect(series.sort()).toEqual([
      'outpost_scep_requests_total{operation="GetCACaps",outcome="ok"} 1',
      'outpost_scep_requests_total{operation="other",outcome="rejected"} 2000',
    ]);
    expect(text).not.toContain('op-');
  });

  it('rate-limits before the operation is checked and before the body is read', async () => {
    const { app, registry } = await scepApp(3);
    close = () => app.close();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await app.inject({ url: `/scep?operation=x${i}` })).statusCode);
    // Out of tokens: a made-up operation, a known one and an oversized body are all refused as busy.
    statuses.push((await app.inject({ url: '/scep?operation=y' })).statusCode);
    statuses.push((await app.inject({ url: '/scep?operation=GetCACaps' })).statusCode);
    const big = await app.inject({
      method: 'POST',
      url: '/scep?operation=PKIOperation',
      payload: Buffer.alloc(4096),
      headers: { 'content-type': 'application/x-pki-message' },
    });
    statuses.push(big.statusCode);
    expect(statuses).toEqual([400, 400, 400, 503, 503, 503]);
    expect(big.headers['retry-after']).toBe('1');
    const text = await registry.metrics();
    expect(text).toContain('outpost_scep_requests_total{operation="other",outcome="busy"} 1');
    expect(text).toContain('outpost_scep_requests_total{operation="PKIOperation",outcome="busy"} 1');
  });
});
