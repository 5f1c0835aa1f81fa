import { z } from 'zod';
import { errorMessage } from './appliance-messages.js';
import { configVersion, envelope, linkId, pemText, timestamp } from './common.js';
import { isJobKind, jobKind, jobKinds } from './job-kinds.js';
import { LinkLimits } from './limits.js';

/**
 * `welcome` — the answer to `hello`: the connection is established. The cloud sends `jwks` right after,
 * then any newer `config`, then jobs.
 */
export const welcomeMessage = z.object({
  ...envelope,
  type: z.literal('welcome'),
  applianceId: linkId,
  serverTime: timestamp,
});

/**
 * A config section as pushed: any JSON object, bounded only by the message size. The appliance
 * validates it with its own config schema (container/config) and answers `config.result`.
 */
const configSection = z.record(z.string().max(256), z.unknown());

/**
 * `config` — configuration `version` for the appliance: `gateway` (pools, DNS, split DNS, routes, port,
 * timers, auth) and/or `connector` (SCEP profiles, JWKS for challenges, CA backend, directory), in the
 * shape of the `gateway:` / `connector:` sections of the config file. A section left out keeps the
 * local one. Answered by `config.result` with the same version.
 */
export const configMessage = z.object({
  ...envelope,
  type: z.literal('config'),
  version: configVersion,
  config: z.object({ gateway: configSection.optional(), connector: configSection.optional() }),
});

/**
 * A job as offered: `payload` validated against its kind's schema (link/jobs/). `createdAt` is when the
 * admin created it.
 */
export const jobEnvelope = z
  .object({ id: linkId, kind: jobKind, payload: z.unknown(), createdAt: timestamp })
  .superRefine((job, ctx) => {
    if (!isJobKind(job.kind)) return;
    const parsed = jobKinds[job.kind].payload.safeParse(job.payload);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: ['payload', ...issue.path] });
      }
    }
  });
export type JobEnvelope = z.infer<typeof jobEnvelope>;

/**
 * `job` — work for this appliance. Offered (again after every reconnect) until the appliance answers
 * `job.accepted`; the appliance journals it first, runs it after `job.start` and processes it
 * idempotently by `job.id`.
 */
export const jobMessage = z.object({ ...envelope, type: z.literal('job'), job: jobEnvelope });

/**
 * `job.start` — the answer to `job.accepted` (or to a job listed in `hello.pendingResults`): the cloud
 * has recorded this appliance as the one that runs the job; run it now. Until then a journaled job
 * waits, so a job whose `job.accepted` was lost with the socket, and that the cloud then gave to
 * another appliance of the site, runs on neither twice. Sent again after each `hello` that lists a job
 * still running here; a job already started or finished ignores it.
 */
export const jobStartMessage = z.object({ ...envelope, type: z.literal('job.start'), jobId: linkId });

/**
 * `job.cancel` — do not run this job: it went to another appliance (`reassigned`: this one left before
 * its acceptance arrived), another appliance already reported its result (`finished`), or the cloud
 * knows no such job for this appliance (`unknown`). A journaled job not yet started is dropped for good
 * (journaled as cancelled, so not after a restart either); answered by `job.cancelled`.
 */
export const jobCancelMessage = z.object({
  ...envelope,
  type: z.literal('job.cancel'),
  jobId: linkId,
  reason: z.enum(['reassigned', 'finished', 'unknown']),
});
export type JobCancelReason = z.infer<typeof jobCancelMessage>['reason'];

/**
 * `ack` — the cloud has durably recorded the appliance message `ref` (a `job.result`, `event`,
 * `health` or `config.result`). For a `job.result`, `jobId` names the job too, so the appliance can drop
 * the result from its journal.
 */
export const ackMessage = z.object({
  ...envelope,
  type: z.literal('ack'),
  ref: linkId,
  jobId: linkId.optional(),
});

/** Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** One public JWK (ES256 in the reference cloud); private members are refused, other members kept. */
const publicJwk = z
  .looseObject({
    kty: z.string().min(1).max(16),
    kid: z.string().min(1).max(128),
    alg: z.string().max(16).optional(),
    use: z.string().max(16).optional(),
    crv: z.string().max(16).optional(),
    x: z.string().max(1024).optional(),
    y: z.string().max(1024).optional(),
    n: z.string().max(2048).optional(),
    e: z.string().max(16).optional(),
  })
  .refine((k) => privateMembers.every((m) => !(m in k)), { message: 'private key material in a JWKS' });

/**
 * `jwks` — the cloud's public signing keys, sent after `welcome` and whenever they change: they verify
 * SCEP challenges (connector) and user bearer tokens (gateway). `issuer` is the `iss` those tokens carry.
 */
export const jwksMessage = z.object({
  ...envelope,
  type: z.literal('jwks'),
  issuer: z.string().min(1).max(512),
  keys: z.array(publicJwk).min(1).max(LinkLimits.maxJwks),
});

/** `renewed` — the new link client certificate (PEM) answering `renew` `ref`, with its issuing chain. */
export const renewedMessage = z.object({
  ...envelope,
  type: z.literal('renewed'),
  ref: linkId,
  certificate: pemText,
  chain: z.array(pemText).max(LinkLimits.maxChainLength),
});

/** Every message the cloud sends. */
export const cloudMessage = z.discriminatedUnion('type', [
  welcomeMessage,
  configMessage,
  jobMessage,
  jobStartMessage,
  jobCancelMessage,
  ackMessage,
  jwksMessage,
  renewedMessage,
  errorMessage,
]);
export type CloudMessage = z.infer<typeof cloudMessage>;
export type CloudMessageType = CloudMessage['type'];
export const cloudMessageTypes = [
  'welcome',
  'config',
  'job',
  'job.start',
  'job.cancel',
  'ack',
  'jwks',
  'renewed',
  'error',
] as const satisfies readonly CloudMessageType[];

/** The content of a `jwks` message (issuer + public keys). */
export type JwksContent = Pick<z.infer<typeof jwksMessage>, 'issuer' | 'keys'>;
