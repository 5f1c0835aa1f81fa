import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { healthReport } from '../schema/appliance-messages.js';
import { HealthCollector } from './health-collector.js';

const logger = pino({ level: 'silent' });
const EXPIRY = new Date('2026-01-01T00:00:00Z');

function collector(probe?: { url: string; timeoutMs: number }) {
  return new HealthCollector({
    dataDir: tmpdir(),
    version: '1.2.3',
    logger,
    latencyMs: () => 4.5,
    agentCertExpiry: () => EXPIRY,
    ...(probe ? { probe } : {}),
  });
}

async function withServer(status: number, run: (url: string) => Promise<void>): Promise<void> {
  const server = createServer((_req, res) => res.writeHead(status).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  try {
    await run(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/probe`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('HealthCollector', () => {
  it('measures what link/ can itself and leaves role checks null without sources', async () => {
    const report = await collector().collect();
    expect(healthReport.parse(report)).toEqual(report);
    expect(report).toMatchObject({
      linkLatencyMs: 4.5,
      agentCertExpiry: EXPIRY.toISOString(),
      tlsCertExpiry: null,
      sessions: null,
      throughput: null,
      internalProbe: null,
      caReachable: null,
      version: '1.2.3',
    });
    expect(report.disk.totalBytes).toBeGreaterThan(0);
    expect(report.memory.rssBytes).toBeGreaterThan(0);
    expect(report.cpu.cores).toBeGreaterThanOrEqual(1);
  });

  it('merges the roles’ sources, and a failing source leaves only its checks null', async () => {
    const c = collector();
    c.register({
      name: 'gateway',
      collect: async () => ({ sessions: 3, throughput: { rxBytesPerSecond: 10, txBytesPerSecond: 20 } }),
    });
    c.register({ name: 'connector', collect: async () => Promise.reject(new Error('db closed')) });
    const report = await c.collect();
    expect(report).toMatchObject({
      sessions: 3,
      throughput: { rxBytesPerSecond: 10, txBytesPerSecond: 20 },
      caReachable: null,
    });
    expect(healthReport.safeParse(report).success).toBe(true);
  });

  it.each([
    [204, true, undefined],
    [404, true, undefined],
    [503, false, 'HTTP 503'],
  ])('probes the internal URL: HTTP %i → ok %s', async (status, ok, error) => {
    await withServer(status, async (url) => {
      const { internalProbe } = await collector({ url, timeoutMs: 5_000 }).collect();
      expect(internalProbe).toMatchObject({ url, ok, ...(error ? { error } : {}) });
      expect(internalProbe?.ms).toBeGreaterThanOrEqual(0);
    });
  });

  it('reports an unreachable probe URL without failing the report', async () => {
    let closedUrl = '';
    await withServer(200, async (url) => {
      closedUrl = url;
    });
    const { internalProbe } = await collector({ url: closedUrl, timeoutMs: 2_000 }).collect();
    expect(internalProbe).toMatchObject({ ok: false, ms: null, error: 'ECONNREFUSED' });
  });
});
