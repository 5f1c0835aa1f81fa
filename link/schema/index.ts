/**
 * The link protocol between an appliance and the cloud (DESIGN.md, "The link protocol"). Pure zod:
 * no I/O. This folder is the protocol's documentation: every message type and job kind is described
 * where its schema is defined.
 * - appliance-messages.ts: hello, health, event, job.accepted, job.cancelled, job.result,
 *   config.result, renew, error
 * - cloud-messages.ts: welcome, config, job, job.start, job.cancel, ack, jwks, renewed, error
 * - job-kinds.ts (+ link/jobs/): payload and result of each job kind
 * - ordering.ts: which message may come when
 * - revocation-reason.ts, scep-challenge-claims.ts: the revocation reasons and the SCEP challenge
 *   claims, shared by the cloud, the link jobs and the connector
 * - parse.ts: parse/encode with LinkDecodeError
 */
export * from './appliance-messages.js';
export * from './cloud-messages.js';
export * from './common.js';
export * from './decode-error.js';
export * from './job-kinds.js';
export * from './limits.js';
export * from './ordering.js';
export * from './parse.js';
export * from './revocation-reason.js';
export * from './scep-challenge-claims.js';
