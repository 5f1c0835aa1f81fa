import { z } from 'zod';
import { gatewayJobs } from '../jobs/gateway-jobs.js';
import type { ApplianceRole } from './common.js';

/** A job kind: the role that runs it, and the schemas of its payload and of its `job.result` result. */
export interface JobKindSpec {
  readonly role: ApplianceRole;
  readonly payload: z.ZodType;
  readonly result: z.ZodType;
}

/**
 * Connector job kinds. Their payload/result schemas live in link/jobs/connector-jobs.ts (written with the
 * PKCS work); until it lands they are validated as any JSON value here and by the connector itself.
 *
 * - `cert.pkcs.issue`: server-side key generation + certificate under a profile + PKCS#12 whose password
 *   is encrypted to the device's public key (RSA-OAEP).
 * - `cert.pfx.import`: an S/MIME PFX uploaded by an admin, its password RSA-OAEP-SHA512-encrypted to the
 *   connector's import key; re-wrapped for the target device.
 * - `cert.revoke`: revoke by issuer + serial; "already revoked" fails with a final conflict, an
 *   unreachable CA with a retryable `OUTPOST_ERR_UNAVAILABLE`.
 */
const connectorJobs = {
  'cert.pkcs.issue': { role: 'connector', payload: z.unknown(), result: z.unknown() },
  'cert.pfx.import': { role: 'connector', payload: z.unknown(), result: z.unknown() },
  'cert.revoke': { role: 'connector', payload: z.unknown(), result: z.unknown() },
} as const;

/** Every job kind the link knows. A job of any other kind is refused by both ends. */
export const jobKinds = { ...gatewayJobs, ...connectorJobs } satisfies Record<string, JobKindSpec>;

export type JobKind = keyof typeof jobKinds;
export const jobKindNames = Object.keys(jobKinds) as [JobKind, ...JobKind[]];
export const jobKind = z.enum(jobKindNames);

export function isJobKind(kind: string): kind is JobKind {
  return Object.hasOwn(jobKinds, kind);
}
