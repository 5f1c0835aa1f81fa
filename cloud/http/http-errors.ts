import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ErrorCodes, OutpostError, toOutpostError } from '../../core/errors.js';

const STATUS: Record<string, number> = {
  [ErrorCodes.decode]: 400,
  [ErrorCodes.badRequest]: 400,
  [ErrorCodes.config]: 400,
  [ErrorCodes.limit]: 413,
  [ErrorCodes.unauthorized]: 401,
  [ErrorCodes.badChallenge]: 401,
  [ErrorCodes.notFound]: 404,
  [ErrorCodes.conflict]: 409,
  [ErrorCodes.busy]: 429,
  [ErrorCodes.unavailable]: 503,
};

/** A zod failure as a 400 with the first issue as the reason. */
export function invalid(error: z.ZodError, what: string): OutpostError {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join('.');
  const reason = `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}`;
  return new OutpostError(ErrorCodes.badRequest, `invalid ${what}: ${reason}`.slice(0, 512));
}

/** Parses `value` with `schema` or throws a 400. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(parsed.error, what);
  return parsed.data;
}

/**
 * The one mapping of errors onto HTTP (DESIGN rule 5): `{ error: { code, message } }` with the
 * client-safe message; fastify's own errors (bad JSON, body too large) keep their 4xx status.
 */
export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((raw: FastifyError, _request, reply) => {
    if (!(raw instanceof OutpostError) && typeof raw.statusCode === 'number' && raw.statusCode < 500) {
      const code = raw.statusCode === 413 ? ErrorCodes.limit : ErrorCodes.badRequest;
      return reply.code(raw.statusCode).send({ error: { code, message: raw.message.slice(0, 256) } });
    }
    const error = toOutpostError(raw);
    const status = STATUS[error.code] ?? 500;
    if (status >= 500) logger.error({ err: error }, 'request failed');
    return reply.code(status).send({ error: { code: error.code, message: error.clientMessage } });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: { code: ErrorCodes.notFound, message: 'no such route' } }),
  );
}
