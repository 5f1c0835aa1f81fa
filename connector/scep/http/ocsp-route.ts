import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { OCSP_REQUEST_LIMITS, ocspErrorResponse } from '../../../certs/ocsp/index.js';
import { DecodeError, ErrorCodes } from '../../../core/errors.js';
import type { OcspAnswer } from '../../revocation/ocsp-responder.js';

/** Path of the OCSP responder the built-in CA writes into every certificate's AIA. */
export const ocspPath = '/ocsp';

export interface OcspMetrics {
  /** One count per CertID answered (good, revoked, unknown) or per error response (its status). */
  ocsp(status: string): void;
}

export interface OcspRouteOptions {
  responder: { respond(requestDer: Uint8Array): Promise<OcspAnswer> };
  logger: Logger;
  metrics?: OcspMetrics;
}

/** Base64 of the largest request we read, URL-safe or standard alphabet, padding optional. */
const MAX_GET_CHARS = Math.ceil(OCSP_REQUEST_LIMITS.maxBytes / 3) * 4;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * RFC 6960 Appendix A.1 over HTTP: `POST /ocsp` with an application/ocsp-request body, or
 * `GET /ocsp/<url-encoded base64 DER>`. Every answer is HTTP 200 with an OCSPResponse, errors
 * included (A.1 allows it, and clients read the OCSP status, not the HTTP one); only an
 * oversized POST body is refused by HTTP (413) before it is read.
 */
export function registerOcspRoute(app: FastifyInstance, options: OcspRouteOptions): void {
  app.post(ocspPath, { bodyLimit: OCSP_REQUEST_LIMITS.maxBytes }, (request, reply) =>
    answer(request, reply, options, Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)),
  );
  // The wildcard takes the rest of the path, so base64 '/' left unencoded by a client still works.
  app.get(`${ocspPath}/*`, (request, reply) =>
    answer(request, reply, options, fromGetPath((request.params as { '*'?: string })['*'] ?? '')),
  );
}

/**
 * The path is URL-decoded already (find-my-way). Both base64 alphabets are accepted: some
 * clients send the URL-safe one, as scepclient does for SCEP.
 */
function fromGetPath(text: string): Buffer | DecodeError {
  if (text.length > MAX_GET_CHARS) return new DecodeError('OCSP GET request too large');
  if (!BASE64.test(text)) return new DecodeError('OCSP GET request is not base64');
  return Buffer.from(text, 'base64');
}

async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  options: OcspRouteOptions,
  der: Buffer | DecodeError,
): Promise<FastifyReply> {
  const result: OcspAnswer =
    der instanceof DecodeError
      ? {
          der: ocspErrorResponse('malformedRequest'),
          status: 'malformedRequest',
          certStatuses: [],
          error: der,
        }
      : await options.responder.respond(der);
  record(result, request, options);
  return (
    reply
      .code(200)
      .type('application/ocsp-response')
      // Revocation must show at once: no shared cache may keep a "good" until nextUpdate.
      .header('cache-control', 'no-cache')
      .send(result.der)
  );
}

function record(result: OcspAnswer, request: FastifyRequest, options: OcspRouteOptions): void {
  const { logger, metrics } = options;
  if (result.status === 'successful') {
    for (const status of result.certStatuses) metrics?.ocsp(status);
    logger.debug({ client: request.ip, statuses: result.certStatuses }, 'OCSP answered');
    return;
  }
  metrics?.ocsp(result.status);
  const fields = { client: request.ip, status: result.status, reason: result.error?.message };
  if (result.status === 'malformedRequest') logger.info(fields, 'OCSP request malformed');
  else if (result.error?.code === ErrorCodes.unavailable) logger.warn(fields, 'OCSP request not answered');
  else logger.error({ ...fields, err: result.error?.cause ?? result.error }, 'OCSP request failed');
}
