import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DecodeError, ErrorCodes, OutpostError, toOutpostError } from '../../../core/errors.js';
import { capabilities, decodeGetMessageParam, encodeCaCertResponse } from '../codec/index.js';
import { ClientRateLimiter, ConcurrencyGate } from './client-limits.js';
import { httpStatusFor } from './scep-failure.js';
import type { ScepOperations } from './scep-operations.js';
import type { ScepRa } from './scep-ra.js';

export interface ScepMetrics {
  observe(operation: string, outcome: string, seconds: number): void;
}

export interface ScepRouteOptions {
  path: string;
  ra: ScepRa;
  operations: ScepOperations;
  limits: { maxBodyBytes: number; ratePerClientPerMinute: number; maxConcurrent: number };
  logger: Logger;
  metrics?: ScepMetrics;
}

const knownOperations = new Set(['GetCACaps', 'GetCACert', 'GetNextCACert', 'PKIOperation']);

/**
 * RFC 8894 §4 over HTTP: `GET|POST <path>?operation=…[&message=…]`. Errors before a CertRep can
 * be built get a short text body and a 4xx/5xx; the message never includes internal detail.
 */
export function registerScepRoutes(app: FastifyInstance, options: ScepRouteOptions): void {
  const rate = new ClientRateLimiter(options.limits.ratePerClientPerMinute);
  const gate = new ConcurrencyGate(options.limits.maxConcurrent);
  const handler = (request: FastifyRequest, reply: FastifyReply) =>
    handle(request, reply, options, rate, gate);
  app.get(options.path, handler);
  app.post(options.path, { bodyLimit: options.limits.maxBodyBytes }, handler);
}

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ScepRouteOptions,
  rate: ClientRateLimiter,
  gate: ConcurrencyGate,
): Promise<FastifyReply> {
  const started = process.hrtime.bigint();
  const query = request.query as Record<string, unknown>;
  const operation = typeof query.operation === 'string' ? query.operation : '';
  let outcome = 'error';
  try {
    if (!knownOperations.has(operation)) {
      throw new OutpostError(ErrorCodes.badRequest, 'unknown or missing operation');
    }
    rate.take(request.ip);
    outcome = await gate.run(() => answer(operation, request, reply, options));
    return reply;
  } catch (e) {
    const error = toOutpostError(e);
    outcome = error.code === ErrorCodes.busy ? 'busy' : 'rejected';
    logRejection(options.logger, error, request, operation);
    if (error.code === ErrorCodes.busy) reply.header('retry-after', '1');
    return reply.code(httpStatusFor(error)).type('text/plain').send(`${error.clientMessage}\n`);
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    options.metrics?.observe(operation || 'unknown', outcome, seconds);
  }
}

function logRejection(logger: Logger, error: OutpostError, request: FastifyRequest, operation: string): void {
  const fields = { code: error.code, client: request.ip, operation, reason: error.message };
  if (error.code === ErrorCodes.internal)
    logger.error({ ...fields, err: error.cause }, 'SCEP request failed');
  else logger.info(fields, 'SCEP request rejected');
}

async function answer(
  operation: string,
  request: FastifyRequest,
  reply: FastifyReply,
  options: ScepRouteOptions,
): Promise<string> {
  switch (operation) {
    case 'GetCACaps':
      reply.type('text/plain').send(capabilities());
      return 'ok';
    case 'GetCACert': {
      const { body, contentType } = encodeCaCertResponse([options.ra.certDer, ...options.ra.caChainDer]);
      reply.type(contentType).send(body);
      return 'ok';
    }
    case 'GetNextCACert':
      // RFC 8894 §3.5.3: only meaningful during a CA rollover, which the built-in CA does not stage.
      throw new OutpostError(ErrorCodes.notFound, 'no next CA certificate');
    default: {
      const result = await options.operations.pkiOperation(messageBytes(request, options), request.ip);
      reply.type('application/x-pki-message').send(result.body);
      return result.status;
    }
  }
}

/** The pkiMessage: the POST body, or the GET `message` parameter in either base64 alphabet. */
function messageBytes(request: FastifyRequest, options: ScepRouteOptions): Buffer {
  if (request.method === 'POST') {
    if (!Buffer.isBuffer(request.body) || request.body.length === 0)
      throw new DecodeError('empty request body');
    return request.body;
  }
  const param = rawQueryParam(request.raw.url ?? '', 'message');
  if (param === undefined || param.length === 0) throw new DecodeError('missing message parameter');
  if (param.length > options.limits.maxBodyBytes * 2) {
    throw new OutpostError(ErrorCodes.limit, 'message too large');
  }
  return decodeGetMessageParam(param);
}

/**
 * Reads a query parameter still percent-encoded: a querystring parser turns an unescaped `+` of
 * standard base64 into a space, and certmonger sends standard base64 in GET requests.
 */
function rawQueryParam(url: string, name: string): string | undefined {
  const query = url.slice(url.indexOf('?') + 1);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}
