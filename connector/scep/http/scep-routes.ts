import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { DecodeError, ErrorCodes, OutpostError, toOutpostError } from '../../../core/errors.js';
import { fixedLabel } from '../../../core/metric-labels.js';
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

export const SCEP_OPERATIONS = ['GetCACaps', 'GetCACert', 'GetNextCACert', 'PKIOperation'] as const;
const knownOperations: ReadonlySet<string> = new Set(SCEP_OPERATIONS);
/** The `operation` metric label: a known operation, or `other` (the query value is the peer's). */
export const scepOperationLabel = fixedLabel(SCEP_OPERATIONS);

/**
 * RFC 8894 §4 over HTTP: `GET|POST <path>?operation=…[&message=…]`. Errors before a CertRep can
 * be built get a short text body and a 4xx/5xx; the message never includes internal detail.
 */
export function registerScepRoutes(app: FastifyInstance, options: ScepRouteOptions): void {
  const rate = new ClientRateLimiter(options.limits.ratePerClientPerMinute);
  const gate = new ConcurrencyGate(options.limits.maxConcurrent);
  // The rate limit runs at onRequest, before the body is read and before any SCEP parsing, for
  // every request to the path, whatever its operation.
  const limit = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    let refused: OutpostError | undefined;
    try {
      rate.take(request.ip);
    } catch (e) {
      refused = toOutpostError(e);
    }
    if (refused) refuse(request, reply, options, refused, process.hrtime.bigint());
    else done();
  };
  const handler = (request: FastifyRequest, reply: FastifyReply) => handle(request, reply, options, gate);
  app.get(options.path, { onRequest: limit }, handler);
  app.post(options.path, { bodyLimit: options.limits.maxBodyBytes, onRequest: limit }, handler);
}

function operationOf(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown>;
  return typeof query.operation === 'string' ? query.operation : '';
}

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ScepRouteOptions,
  gate: ConcurrencyGate,
): Promise<FastifyReply> {
  const started = process.hrtime.bigint();
  const operation = operationOf(request);
  try {
    if (!knownOperations.has(operation)) {
      throw new OutpostError(ErrorCodes.badRequest, 'unknown or missing operation');
    }
    const outcome = await gate.run(() => answer(operation, request, reply, options));
    observe(options, operation, outcome, started);
    return reply;
  } catch (e) {
    return refuse(request, reply, options, toOutpostError(e), started);
  }
}

/** Answers an error before any CertRep: a short text body, counted and logged. */
function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ScepRouteOptions,
  error: OutpostError,
  started: bigint,
): FastifyReply {
  const operation = operationOf(request);
  observe(options, operation, error.code === ErrorCodes.busy ? 'busy' : 'rejected', started);
  logRejection(options.logger, error, request, operation);
  if (error.code === ErrorCodes.busy) reply.header('retry-after', '1');
  return reply.code(httpStatusFor(error)).type('text/plain').send(`${error.clientMessage}\n`);
}

function observe(options: ScepRouteOptions, operation: string, outcome: string, started: bigint): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  options.metrics?.observe(scepOperationLabel(operation), outcome, seconds);
}

function logRejection(logger: Logger, error: OutpostError, request: FastifyRequest, operation: string): void {
  // The peer's operation text goes into the log only cut short.
  const fields = {
    code: error.code,
    client: request.ip,
    operation: operation.slice(0, 64),
    reason: error.message,
  };
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
