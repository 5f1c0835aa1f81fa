import type { JobRecord } from '../store/jobs.js';

/** A job as the admin API reads it back: `{ id, kind, status, result?, error?, applianceId? }`. */
export function jobView(job: JobRecord): Record<string, unknown> {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    ...(job.status === 'done' ? { result: job.result } : {}),
    ...(job.error
      ? { error: { code: job.error.code, retryable: job.error.retryable, message: job.error.message } }
      : {}),
    ...(job.acceptedBy ? { applianceId: job.acceptedBy } : {}),
  };
}
