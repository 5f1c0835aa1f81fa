import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BanPoints } from '../../gateway/auth/ban-points.js';
import type { Session } from '../../gateway/session/session.js';
import type { SessionEndReason, SessionTable } from '../../gateway/session/session-table.js';

export interface AdminApiOptions {
  token: string;
  sessions?: SessionTable;
  /** The gateway's ban points: bans in force, and lifting one. */
  bans?: Pick<BanPoints, 'bans' | 'forget'>;
  /** `sessions disconnect`: ends sessions here or, in a site, on whichever node runs them. */
  closeSessions?: (match: { id?: string; user?: string }, reason: SessionEndReason) => Promise<number>;
  /** Drain mode (`sessions drain on|off [--migrate]`); see GatewayHandle.drain. */
  drain?: (on: boolean, migrate: boolean) => Promise<{ drain: boolean; migrated: number }>;
}

/** What `outpost sessions list --json` shows of a session (no cookie material). */
export function sessionView(s: Session) {
  return {
    id: s.id,
    user: s.identity.username,
    method: s.identity.method,
    device: s.identity.device ?? null,
    groups: s.identity.groups,
    remoteAddress: s.remoteAddress,
    state: s.state,
    ipv4: s.ipv4 ?? null,
    ipv6: s.ipv6 ?? null,
    worker: s.worker ?? null,
    createdAt: new Date(s.createdAt).toISOString(),
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function authorized(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * The local admin API, under /v1 on its own server (see admin-api-server.ts). Every route sits in
 * one encapsulated scope whose `onRequest` hook checks the token: the hook runs for whatever the
 * router matched, however the path was spelled (`/%761/sessions` decodes to `/v1/sessions`), and
 * never for anything outside the scope. Never authorize by testing the URL text.
 */
export async function registerAdminApi(root: FastifyInstance, options: AdminApiOptions): Promise<void> {
  await root.register(async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (!authorized(request, options.token)) return reply.code(401).send({ error: 'unauthorized' });
    });
    adminRoutes(app, options);
  });
}

function adminRoutes(app: FastifyInstance, options: AdminApiOptions): void {
  app.get('/v1/sessions', async (_request, reply) => {
    if (!options.sessions) return reply.code(404).send({ error: 'the gateway role is not running' });
    return options.sessions.list().map(sessionView);
  });
  app.post<{ Body: { on?: unknown; migrate?: unknown } }>('/v1/sessions/drain', async (request, reply) => {
    if (!options.drain) return reply.code(404).send({ error: 'the gateway role is not running' });
    const { on, migrate = false } = request.body ?? {};
    if (typeof on !== 'boolean' || typeof migrate !== 'boolean')
      return reply.code(400).send({ error: 'give on: true or false (and migrate: true or false)' });
    if (migrate && !on) return reply.code(400).send({ error: 'migrate goes with on: true' });
    return options.drain(on, migrate);
  });
  app.post<{ Body: { id?: unknown; user?: unknown } }>('/v1/sessions/disconnect', async (request, reply) => {
    const close = options.closeSessions;
    if (!close) return reply.code(404).send({ error: 'the gateway role is not running' });
    const { id, user } = request.body ?? {};
    const reason = 'disconnected by an administrator';
    if (typeof id === 'string' && id.length <= 64) {
      const disconnected = await close({ id }, reason);
      if (disconnected === 0) return reply.code(404).send({ error: 'no such session' });
      return { disconnected };
    }
    if (typeof user === 'string' && user.length <= 256)
      return { disconnected: await close({ user }, reason) };
    return reply.code(400).send({ error: 'give id or user' });
  });
  app.get('/v1/sessions/bans', async (_request, reply) => {
    if (!options.bans) return reply.code(404).send({ error: 'the gateway role is not running' });
    return options.bans.bans().map((ban) => ({ ...ban, until: new Date(ban.until).toISOString() }));
  });
  app.post<{ Body: { address?: unknown } }>('/v1/sessions/bans/lift', async (request, reply) => {
    if (!options.bans) return reply.code(404).send({ error: 'the gateway role is not running' });
    const address = request.body?.address;
    if (typeof address !== 'string' || address.length === 0 || address.length > 64)
      return reply.code(400).send({ error: 'give address: an address or a listed ban' });
    return { lifted: options.bans.forget(address) ? 1 : 0 };
  });
}
