import { z } from 'zod';
import {
  boundedText,
  configVersion,
  count,
  envelope,
  linkId,
  pemText,
  roleList,
  timestamp,
  wireError,
} from './common.js';
import { LinkLimits } from './limits.js';

/**
 * `hello` — the first message on every connection (anything else first is refused as out of order).
 * - `applianceId`: must equal the CN of the client certificate the socket was opened with.
 * - `configVersion`: the last config version this appliance applied, or null if none; the cloud pushes
 *   `config` if it holds a newer one.
 * - `pendingResults`: ids of jobs this appliance has journaled (it sent or was about to send
 *   `job.accepted`) whose result the cloud has not acked yet — unfinished ones included. The cloud
 *   answers each as it answers `job.accepted`: `job.start` when the job is (now) this appliance's (a
 *   `job.accepted` lost with the socket is recovered this way), `job.cancel` when it went to another
 *   appliance meanwhile; the results of finished ones follow as `job.result` messages.
 */
export const helloMessage = z.object({
  ...envelope,
  type: z.literal('hello'),
  applianceId: linkId,
  roles: roleList,
  version: z.string().min(1).max(64),
  configVersion: configVersion.nullable(),
  pendingResults: z.array(linkId).max(LinkLimits.maxPendingResults),
});

const nonNegative = z.number().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * The health report, every 60 s, modelled on Microsoft Tunnel's health checks. A check that does not
 * apply to the roles running (sessions on a connector-only appliance) or is not configured (internal
 * probe) is null. Expiries are RFC 3339 timestamps.
 */
export const healthReport = z.object({
  cpu: z.object({
    /** Busy share of all cores since the previous report, 0–100. */
    usagePercent: z.number().min(0).max(100),
    loadAverage1m: nonNegative,
    cores: z.number().int().min(1).max(4096),
  }),
  memory: z.object({ usedBytes: nonNegative, totalBytes: nonNegative, rssBytes: nonNegative }),
  disk: z.object({ path: boundedText, freeBytes: nonNegative, totalBytes: nonNegative }),
  /** Round trip of the last link ping/pong, null before the first. */
  linkLatencyMs: nonNegative.nullable(),
  /** notAfter of the gateway's TLS server certificate. */
  tlsCertExpiry: timestamp.nullable(),
  /** notAfter of this appliance's link client certificate. */
  agentCertExpiry: timestamp.nullable(),
  /** Live VPN sessions. */
  sessions: count.nullable(),
  /** Bytes per second through the tunnel since the previous report. */
  throughput: z.object({ rxBytesPerSecond: nonNegative, txBytesPerSecond: nonNegative }).nullable(),
  /** A configured URL inside the corporate network, fetched from the appliance. */
  internalProbe: z
    .object({ url: boundedText, ok: z.boolean(), ms: nonNegative.nullable(), error: boundedText.optional() })
    .nullable(),
  /** Whether the connector's CA backend answered. */
  caReachable: z.boolean().nullable(),
  version: z.string().min(1).max(64),
});
export type HealthReport = z.infer<typeof healthReport>;

/** `health` — the periodic health report; the cloud stores it as the appliance's last health and acks it. */
export const healthMessage = z.object({ ...envelope, type: z.literal('health'), report: healthReport });

/**
 * Event `scep.issued`: a certificate was issued, over SCEP (with its `transactionId`) or for a
 * `cert.pkcs.issue` job (with its `jobId`; there is no SCEP transaction then).
 */
export const scepIssuedEvent = z.object({
  kind: z.literal('scep.issued'),
  transactionId: boundedText.optional(),
  jobId: linkId.optional(),
  /** Serial number, lowercase hex without separators. */
  serialHex: z.string().regex(/^[0-9a-f]{1,64}$/),
  /** SHA-256 of the certificate's DER, lowercase hex. */
  thumbprint: z.string().regex(/^[0-9a-f]{64}$/),
  notAfter: timestamp,
  subject: boundedText.optional(),
});

/** Event `scep.failed`: a SCEP request was refused; `code` is the OUTPOST_ERR_… code, `reason` the safe text. */
export const scepFailedEvent = z.object({
  kind: z.literal('scep.failed'),
  transactionId: boundedText,
  code: z.string().min(1).max(64),
  reason: boundedText,
});

export const linkEvent = z.discriminatedUnion('kind', [scepIssuedEvent, scepFailedEvent]);
export type LinkEvent = z.infer<typeof linkEvent>;

/** `event` — a notification (SCEP issuance success/failure); stored by the cloud and acked. */
export const eventMessage = z.object({
  ...envelope,
  type: z.literal('event'),
  at: timestamp,
  event: linkEvent,
});

/**
 * `job.accepted` — the appliance's ack of a `job`, sent only after the job is written to its journal.
 * The cloud answers `job.start` when it records the job as this appliance's (from then on it is
 * `running` there and never offered to another), or `job.cancel` when another appliance has it. The
 * appliance runs nothing before `job.start`. Sent again for a job offered again (idempotent).
 */
export const jobAcceptedMessage = z.object({ ...envelope, type: z.literal('job.accepted'), jobId: linkId });

/**
 * `job.cancelled` — the answer to `job.cancel`: `dropped` (journaled but never started; it will not
 * run, not after a restart either), `started` (it was already running or finished here: its result
 * follows or went out as usual, and the cloud keeps the first result of the job), or `unknown` (this
 * appliance never journaled it). Not acked: the journal no longer lists a dropped job in `hello`.
 */
export const jobCancelledMessage = z.object({
  ...envelope,
  type: z.literal('job.cancelled'),
  jobId: linkId,
  status: z.enum(['dropped', 'started', 'unknown']),
});
export type JobCancelledStatus = z.infer<typeof jobCancelledMessage>['status'];

/**
 * `job.result` — the outcome of a job: `done` with the job kind's `result`, or `failed` with `error`
 * (`retryable` tells the admin whether submitting it again may help). Resent until the cloud answers
 * `ack` naming this message's id; the cloud stores the first result of a job and acks (and ignores)
 * every duplicate.
 */
export const jobResultMessage = z
  .object({
    ...envelope,
    type: z.literal('job.result'),
    jobId: linkId,
    status: z.enum(['done', 'failed']),
    result: z.unknown().optional(),
    error: wireError.optional(),
  })
  .refine((m) => (m.status === 'failed') === (m.error !== undefined), {
    message: 'error is required when status is failed and forbidden when done',
  });

/**
 * `config.result` — whether the config `version` pushed was applied or rejected (with the reason; the
 * previous config stays in force).
 */
export const configResultMessage = z
  .object({
    ...envelope,
    type: z.literal('config.result'),
    version: configVersion,
    status: z.enum(['applied', 'rejected']),
    error: wireError.optional(),
  })
  .refine((m) => (m.status === 'rejected') === (m.error !== undefined), {
    message: 'error is required when status is rejected and forbidden when applied',
  });

/**
 * `renew` — a PKCS#10 CSR (PEM) for a new link client certificate, sent before the current one
 * expires. Its subject is ignored: the cloud issues for the connection's appliance id. Answered by
 * `renewed` (or `error` naming this message).
 */
export const renewMessage = z.object({ ...envelope, type: z.literal('renew'), csr: pemText });

/**
 * `error` — either end: the message `ref` (when its id could be read) was refused. `code` is an
 * OUTPOST_ERR_… code; `reason` classifies link-level refusals (see LinkDecodeReason plus
 * `out-of-order`). The connection stays open.
 */
export const errorMessage = z.object({
  ...envelope,
  type: z.literal('error'),
  ref: linkId.optional(),
  code: z.string().min(1).max(64),
  reason: z.string().min(1).max(64).optional(),
  message: boundedText,
});

/** Every message an appliance sends. */
export const applianceMessage = z.discriminatedUnion('type', [
  helloMessage,
  healthMessage,
  eventMessage,
  jobAcceptedMessage,
  jobCancelledMessage,
  jobResultMessage,
  configResultMessage,
  renewMessage,
  errorMessage,
]);
export type ApplianceMessage = z.infer<typeof applianceMessage>;
export type ApplianceMessageType = ApplianceMessage['type'];
export const applianceMessageTypes = [
  'hello',
  'health',
  'event',
  'job.accepted',
  'job.cancelled',
  'job.result',
  'config.result',
  'renew',
  'error',
] as const satisfies readonly ApplianceMessageType[];
