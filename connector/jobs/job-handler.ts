import type { z } from 'zod';
import { ErrorCodes } from '../../core/errors.js';
import { JobFailure, toJobFailure } from './job-error.js';

/** A job as the link delivers it (link/ports.ts LinkJob). */
export interface ConnectorJob {
  id: string;
  kind: string;
  payload: unknown;
}

/**
 * One job kind's handler, shaped like link/ports.ts JobHandler: `handle` resolves with the result
 * (valid against the kind's result schema) or rejects with a JobFailure ({code, retryable, message}).
 */
export interface ConnectorJobHandler<R = unknown> {
  readonly kind: string;
  handle(job: ConnectorJob): Promise<R>;
}

const MAX_JOB_ID = 128;

/**
 * Validates the payload with the kind's schema (a bad payload is final: badRequest, not
 * retryable), runs the job, and maps whatever it throws to a JobFailure.
 */
export function jobHandler<P, R>(
  kind: string,
  payloadSchema: z.ZodType<P>,
  run: (jobId: string, payload: P) => Promise<R>,
): ConnectorJobHandler<R> {
  return {
    kind,
    async handle(job) {
      if (job.kind !== kind) throw new JobFailure(ErrorCodes.badRequest, `not a ${kind} job`);
      if (typeof job.id !== 'string' || job.id.length === 0 || job.id.length > MAX_JOB_ID) {
        throw new JobFailure(ErrorCodes.badRequest, 'invalid job id');
      }
      const parsed = payloadSchema.safeParse(job.payload);
      if (!parsed.success) {
        throw new JobFailure(ErrorCodes.badRequest, `invalid ${kind} payload: ${describe(parsed.error)}`);
      }
      try {
        return await run(job.id, parsed.data);
      } catch (e) {
        throw toJobFailure(e);
      }
    },
  };
}

/** The first few issues as "path: message", for the admin who sent the job. */
function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
}
