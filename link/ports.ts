import type { HealthReport, LinkEvent } from './schema/appliance-messages.js';

export type { HealthReport, LinkEvent };

/**
 * What link/ needs from the roles, and what it offers them. link/ never imports gateway/ or
 * connector/ (DESIGN rule 2): container/ passes implementations of these interfaces in.
 */

/** A job as delivered by the cloud (its payload is validated by the handler of its kind). */
export interface LinkJob {
  id: string;
  kind: string;
  payload: unknown;
}

/** Runs one kind of job; the resolved value is the job's result, a throw its failure. */
export interface JobHandler {
  readonly kind: string;
  handle(job: LinkJob): Promise<unknown>;
}

/**
 * Durable per-job progress: a handler that crashes half-way (key generated, certificate not yet
 * issued) finds what it had saved when the job resumes, so it never does the same work twice.
 */
export interface JobCheckpoints {
  get(jobId: string): Buffer | undefined;
  put(jobId: string, data: Buffer): void;
}

/** Applies one configuration section pushed by the cloud; rejects (with the reason) to keep the old one. */
export interface ConfigApplier {
  /** The key of the pushed config this applier owns, e.g. `gateway` or `connector`. */
  readonly section: string;
  /** Optional dry run: every section of a push is validated before any is applied. */
  validate?(config: unknown): Promise<void>;
  apply(version: number, config: unknown): Promise<void>;
}

/** The health checks only a role can answer; link/ measures the rest itself. */
export type RoleHealth = Partial<
  Pick<HealthReport, 'tlsCertExpiry' | 'sessions' | 'throughput' | 'caReachable'>
>;

/** Role-specific health (gateway: sessions, throughput, TLS expiry; connector: CA reachability). */
export interface HealthSource {
  readonly name: string;
  collect(): Promise<RoleHealth>;
}

/**
 * An event as a role reports it: the kind and its fields (e.g. `scep.issued` with transactionId,
 * serialHex, thumbprint, notAfter). The link checks it against the schema's event of that kind.
 */
export interface RoleEvent {
  kind: string;
  data: Record<string, unknown>;
}

/** Given to the roles by container/: emitting never blocks and never throws, link up or down. */
export interface EventSink {
  /** Delivered at least once (journaled until the cloud acks it). */
  emit(event: RoleEvent): void;
}

/** Receives the cloud's signing keys (SCEP challenges, user tokens), at start from disk, then on every push. */
export interface JwksConsumer {
  update(jwks: CloudJwks): void | Promise<void>;
}

export interface CloudJwks {
  issuer: string;
  keys: Array<Record<string, unknown>>;
}

/** The outcome of a job as journaled and reported in `job.result`. */
export type JobOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; retryable: boolean; message: string } };
