import Fastify, { type FastifyInstance } from 'fastify';

export interface ConnectorHttpOptions {
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

/**
 * The connector's device-facing HTTP server. Every body is read as raw bytes (SCEP POSTs
 * `application/x-pki-message`, but clients vary), bounded by size and time.
 */
export function createConnectorHttp(options: ConnectorHttpOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    trustProxy: false,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  return app;
}
