import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { Readiness } from './readiness.js';

export interface AdminServerOptions {
  /** `host:port`; port 0 picks a free port (tests). */
  listen: string;
  registry: Registry;
  readiness: Readiness;
  /**
   * `GET /healthz/gateway` for a load balancer's health check: 200 when healthy, else 503, with
   * the small JSON body given. Absent when the gateway role is not configured (404).
   */
  gatewayHealth?: () => { healthy: boolean };
  logger: Logger;
}

export interface AdminServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** Marks a registry so that default process metrics are added once, however many servers use it. */
const DEFAULT_METRICS_PROBE = 'process_cpu_user_seconds_total';

function ensureDefaultMetrics(registry: Registry): void {
  if (!registry.getSingleMetric(DEFAULT_METRICS_PROBE)) collectDefaultMetrics({ register: registry });
}

function buildApp(options: AdminServerOptions): FastifyInstance {
  const app = Fastify({
    // Probes hit these routes every few seconds: no per-request logging; start-up is logged below.
    logger: false,
    bodyLimit: 64 * 1024,
    connectionTimeout: 10_000,
    requestTimeout: 10_000,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const report = await options.readiness.run();
    return reply
      .code(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
  });
  app.get('/healthz/gateway', async (_request, reply) => {
    if (!options.gatewayHealth) return reply.code(404).send({ error: 'the gateway role is not configured' });
    const health = options.gatewayHealth();
    return reply.code(health.healthy ? 200 : 503).send(health);
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(body);
  });
  return app;
}

/**
 * Serves the read-only probes /healthz, /readyz, /healthz/gateway and /metrics on `listen`, and nothing else: the
 * admin API has its own server (admin-api-server.ts), so this port can be published for health
 * checks and scraping without exposing anything that changes state.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const where = parseListenAddress(options.listen);
  if (!where) throw new OutpostError(ErrorCodes.config, `admin.listen: invalid address ${options.listen}`);
  ensureDefaultMetrics(options.registry);
  const app = buildApp(options);
  try {
    await app.listen({ host: where.host, port: where.port });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutpostError(
      ErrorCodes.unavailable,
      `admin server cannot listen on ${options.listen} (${code ?? 'error'})`,
      {
        cause: e,
      },
    );
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : where.port;
  options.logger
    .child({ component: 'admin' })
    .info({ listen: `${where.host}:${port}` }, 'admin server listening');
  return { address: { host: where.host, port }, close: () => app.close() };
}
