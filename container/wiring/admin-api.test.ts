import { request as httpRequest } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanPoints } from '../../gateway/auth/ban-points.js';
import { type SessionEndReason, SessionTable } from '../../gateway/session/session-table.js';
import { registerAdminApi } from './admin-api.js';

const TOKEN = 'a'.repeat(43);

/**
 * Spellings of one path that a router may take for the same route: percent-encoded characters,
 * dot segments, doubled slashes, another case, a trailing slash, a query. None of them may reach
 * a handler without the token.
 */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const encodeAll = (s: string) =>
    [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  const first = segments[0] ?? '';
  return [
    path,
    `/${encodeAll(first.slice(0, 1))}${first.slice(1)}/${segments.slice(1).join('/')}`,
    `/${segments.map(encodeAll).join('/')}`,
    `/${segments.map((s) => encodeAll(s).toUpperCase()).join('/')}`,
    `/./${segments.join('/')}`,
    `/x/../${segments.join('/')}`,
    `/%2e/${segments.join('/')}`,
    `/${segments[0]}/./${segments.slice(1).join('/')}`,
    `/${segments.join('//')}`,
    `/${path}`,
    `${path}/`,
    `${path}/.`,
    path.toUpperCase(),
    `/${first.toUpperCase()}/${segments.slice(1).join('/')}`,
    `${path}?x=1`,
    `/${segments.join('%2F')}`,
    `${path};x=1`,
    `${path}%00`,
  ];
}

interface Answer {
  status: number;
  body: string;
}

/** A real HTTP request with the path sent exactly as written (curl --path-as-is). */
function send(port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = method === 'GET' || method === 'HEAD' ? undefined : '{"on":true,"user":"u","id":"x"}';
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin API authorization (every registered route, every spelling)', () => {
  let app: FastifyInstance;
  let port: number;
  const routes: { method: string; url: string }[] = [];
  const touched: string[] = [];
  // The real session table behind a proxy that notes every use: a handler reached shows here.
  const sessions = new Proxy(
    new SessionTable({
      maxClients: 10,
      maxSessionsPerUser: 10,
      cookieTimeoutSeconds: 300,
      sessionTimeoutSeconds: 3600,
    }),
    {
      get(target, property, receiver) {
        touched.push(String(property));
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    },
  );

  // The real ban points, behind the same kind of proxy; one address banned.
  const banPoints = new BanPoints({ maxScore: 10 });
  banPoints.addFailure('192.0.2.66', 'wrongPassword');
  const bans = new Proxy(banPoints, {
    get(target, property, receiver) {
      touched.push(String(property));
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

  beforeAll(async () => {
    app = Fastify({ logger: false });
    // Routes are read from the instance itself, so a route added later is walked too.
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    const drain = async (on: boolean, migrate: boolean) => {
      touched.push('drain');
      sessions.setDrain(on);
      return { drain: on, migrated: migrate ? 1 : 0 };
    };
    const closeSessions = async (match: { id?: string; user?: string }, reason: SessionEndReason) =>
      sessions.closeWhere((s) => s.id === match.id || s.identity.username === match.user, reason);
    await registerAdminApi(app, { token: TOKEN, sessions, bans, drain, closeSessions });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  it('has routes to walk (drain, disconnect and list among them)', () => {
    const urls = routes.map((r) => `${r.method} ${r.url}`);
    expect(urls).toEqual(
      expect.arrayContaining(['GET /v1/sessions', 'POST /v1/sessions/drain', 'POST /v1/sessions/disconnect']),
    );
  });

  it('refuses each route without the token or with a wrong one, however the path is spelled', async () => {
    const credentials: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `bearer ${TOKEN.slice(1)}` },
      { authorization: 'Bearer ' },
      { authorization: TOKEN },
    ];
    const reached: string[] = [];
    for (const route of routes) {
      for (const path of spellings(route.url)) {
        for (const headers of credentials) {
          touched.length = 0;
          const answer = await send(port, route.method, path, headers);
          if (![400, 401, 404].includes(answer.status) || touched.length > 0) {
            reached.push(
              `${route.method} ${path} ${JSON.stringify(headers)} -> ${answer.status} ${answer.body}`,
            );
          }
        }
      }
    }
    expect(reached).toEqual([]);
  });

  it('serves each route with the token (the walk above would notice a handler reached)', async () => {
    touched.length = 0;
    const listed = await send(port, 'GET', '/%761/sessions', { authorization: `Bearer ${TOKEN}` });
    expect(listed).toEqual({ status: 200, body: '[]' });
    expect(touched).toContain('list');
    const drained = await send(port, 'POST', '/v1/sessions/drain', { authorization: `Bearer ${TOKEN}` });
    expect(drained).toEqual({ status: 200, body: '{"drain":true,"migrated":0}' });
    expect(touched).toContain('setDrain');
  });

  it('lists bans and lifts one with the token', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const listed = await send(port, 'GET', '/v1/sessions/bans', auth);
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.body)).toEqual([
      { address: '192.0.2.66', score: 10, until: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
    const lift = (address: string) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v1/sessions/bans/lift',
            headers: { ...auth, 'content-type': 'application/json' },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ address }));
      });
    expect(await lift('192.0.2.66')).toEqual({ status: 200, body: '{"lifted":1}' });
    expect(await lift('192.0.2.66')).toEqual({ status: 200, body: '{"lifted":0}' });
    expect((await lift('')).status).toBe(400);
    expect(banPoints.bannedFor('192.0.2.66')).toBe(0);
  });
});
