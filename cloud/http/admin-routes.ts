import type { FastifyInstance } from 'fastify';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { isJobKind, jobKinds, LinkLimits } from '../../link/schema/index.js';
import type { ConfigPusher } from '../dispatch/config-pusher.js';
import type { JobDispatcher } from '../dispatch/job-dispatcher.js';
import type { Connections } from '../link/connections.js';
import type { ApplianceRecord, Appliances } from '../store/appliances.js';
import type { Configs } from '../store/configs.js';
import type { EnrollmentTokens } from '../store/enrollment-tokens.js';
import type { Events } from '../store/events.js';
import type { Jobs, JobTarget } from '../store/jobs.js';
import { parseBody } from './http-errors.js';
import { jobView } from './job-view.js';
import {
  configRequest,
  enrollmentTokenRequest,
  eventListQuery,
  jobListQuery,
  jobRequest,
} from './request-schemas.js';

export interface AdminDeps {
  enrollmentTokens: EnrollmentTokens;
  appliances: Appliances;
  configs: Configs;
  jobs: Jobs;
  events: Events;
  connections: Connections;
  dispatcher: JobDispatcher;
  configPusher: ConfigPusher;
  /** Closes the live link of a revoked appliance. */
  disconnect: (applianceId: string) => void;
  clock: () => Date;
}

/** Room left in a 1 MiB link message for the envelope around a payload or a config. */
const ENVELOPE_ROOM = 4096;

function badRequest(message: string): OutpostError {
  return new OutpostError(ErrorCodes.badRequest, message);
}

function fitsInMessage(value: unknown, what: string): void {
  if (Buffer.byteLength(JSON.stringify(value ?? null)) > LinkLimits.maxMessageBytes - ENVELOPE_ROOM) {
    throw new OutpostError(ErrorCodes.limit, `${what} does not fit in one link message`);
  }
}

function applianceView(a: ApplianceRecord, connected: boolean, latestConfig: number | undefined) {
  return {
    id: a.id,
    roles: a.roles,
    site: a.site,
    connected,
    enrolledAt: a.enrolledAt.toISOString(),
    revoked: a.revokedAt !== null,
    version: a.version,
    certificate: { serialHex: a.certSerial, notAfter: a.certNotAfter.toISOString() },
    lastHelloAt: a.lastHelloAt?.toISOString() ?? null,
    lastHealth: a.lastHealth ? { at: a.lastHealth.at.toISOString(), report: a.lastHealth.report } : null,
    config: {
      latestVersion: latestConfig ?? null,
      appliedVersion: a.configApplied,
      rejected: a.configRejected,
    },
  };
}

/** The admin REST API (all routes behind the admin bearer token, see admin-auth.ts). */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.post('/v1/admin/enrollment-tokens', async (request, reply) => {
    const body = parseBody(enrollmentTokenRequest, request.body ?? {}, 'enrollment token request');
    const created = deps.enrollmentTokens.create(body.ttlSeconds, body.roles, body.site, deps.clock());
    return reply
      .code(201)
      .send({ id: created.id, token: created.token, expiresAt: created.expiresAt.toISOString() });
  });

  app.get('/v1/admin/appliances', async () => ({
    appliances: deps.appliances
      .list()
      .map((a) => applianceView(a, deps.connections.isConnected(a.id), deps.configs.latestVersion(a.id))),
  }));

  app.get<{ Params: { id: string } }>('/v1/admin/appliances/:id', async (request) => {
    const a = deps.appliances.get(request.params.id);
    if (!a) throw new OutpostError(ErrorCodes.notFound, 'no such appliance');
    return applianceView(a, deps.connections.isConnected(a.id), deps.configs.latestVersion(a.id));
  });

  app.put<{ Params: { id: string } }>('/v1/admin/appliances/:id/config', async (request, reply) => {
    const appliance = deps.appliances.get(request.params.id);
    if (!appliance) throw new OutpostError(ErrorCodes.notFound, 'no such appliance');
    const body = parseBody(configRequest, request.body, 'config');
    fitsInMessage(body, 'config');
    const version = deps.configPusher.put(appliance.id, body);
    return reply.code(201).send({ id: appliance.id, version });
  });

  app.post<{ Params: { id: string } }>('/v1/admin/appliances/:id/revoke', async (request) => {
    const appliance = deps.appliances.get(request.params.id);
    if (!appliance) throw new OutpostError(ErrorCodes.notFound, 'no such appliance');
    deps.appliances.revoke(appliance.id, deps.clock());
    deps.disconnect(appliance.id);
    return { id: appliance.id, revoked: true };
  });

  app.post('/v1/admin/jobs', async (request, reply) => {
    const body = parseBody(jobRequest, request.body, 'job');
    if (!isJobKind(body.kind)) throw badRequest(`unknown job kind ${JSON.stringify(body.kind)}`);
    const spec = jobKinds[body.kind];
    const payload = spec.payload.safeParse(body.payload);
    if (!payload.success) {
      const issue = payload.error.issues[0];
      const path = issue?.path.map(String).join('.');
      throw badRequest(`invalid payload for ${body.kind}: ${path ? `${path}: ` : ''}${issue?.message ?? ''}`);
    }
    fitsInMessage(body.payload, 'payload');
    const target: JobTarget = body.target;
    if ('role' in target && target.role !== spec.role) {
      throw badRequest(`${body.kind} is a ${spec.role} job, not for role ${target.role}`);
    }
    if ('role' in target && target.site !== undefined) {
      const site = target.site;
      const members = deps.appliances
        .list()
        .filter((a) => a.site === site && !a.revokedAt && a.roles.includes(spec.role));
      if (members.length === 0) throw badRequest(`site ${site} has no enrolled ${spec.role} appliance`);
    }
    if ('applianceId' in target) {
      const appliance = deps.appliances.get(target.applianceId);
      if (!appliance || appliance.revokedAt) throw badRequest('target appliance is not enrolled');
      if (!appliance.roles.includes(spec.role)) throw badRequest(`target appliance has no ${spec.role} role`);
    }
    // The payload as sent (not zod's output): the appliance validates it again with the same schema.
    const job = deps.dispatcher.submit(body.kind, target, body.payload);
    return reply.code(201).send({ id: job.id });
  });

  app.get('/v1/admin/jobs', async (request) => {
    const query = parseBody(jobListQuery, request.query, 'query');
    return { counts: deps.jobs.countByStatus(), jobs: deps.jobs.list(query).map(jobView) };
  });

  app.get<{ Params: { id: string } }>('/v1/admin/jobs/:id', async (request) => {
    const job = deps.jobs.get(request.params.id);
    if (!job) throw new OutpostError(ErrorCodes.notFound, 'no such job');
    return jobView(job);
  });

  app.get('/v1/admin/events', async (request) => {
    const query = parseBody(eventListQuery, request.query, 'query');
    const events = deps.events.list({
      afterSeq: query.after,
      limit: query.limit,
      ...(query.applianceId ? { applianceId: query.applianceId } : {}),
    });
    return {
      events: events.map((e) => ({
        seq: e.seq,
        applianceId: e.applianceId,
        at: e.at,
        receivedAt: e.receivedAt.toISOString(),
        event: e.event,
      })),
    };
  });
}
