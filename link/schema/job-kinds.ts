import { z } from 'zod';
import { connectorJobs } from '../jobs/connector-jobs.js';
import { gatewayJobs } from '../jobs/gateway-jobs.js';
import type { ApplianceRole } from './common.js';

/** A job kind: the role that runs it, and the schemas of its payload and of its `job.result` result. */
export interface JobKindSpec {
  readonly role: ApplianceRole;
  readonly payload: z.ZodType;
  readonly result: z.ZodType;
}

/**
 * Every job kind the link knows, with the role that runs it (a job of any other kind is refused by
 * both ends). Payload and result of each are documented where they are defined:
 * - `session.revoke` (gateway): link/jobs/gateway-jobs.ts;
 * - `cert.pkcs.issue`, `cert.pfx.import`, `cert.revoke` (connector): link/jobs/connector-jobs.ts.
 */
export const jobKinds = { ...gatewayJobs, ...connectorJobs } satisfies Record<string, JobKindSpec>;

export type JobKind = keyof typeof jobKinds;
export const jobKindNames = Object.keys(jobKinds) as [JobKind, ...JobKind[]];
export const jobKind = z.enum(jobKindNames);

export function isJobKind(kind: string): kind is JobKind {
  return Object.hasOwn(jobKinds, kind);
}
