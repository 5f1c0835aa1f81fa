import type { FastifyInstance } from 'fastify';
import type { CloudDb } from '../store/cloud-db.js';
import type { IssuedToken, TokenIssuer } from '../tokens/token-issuer.js';
import { parseBody } from './http-errors.js';
import { scepChallengeRequest, userTokenRequest } from './request-schemas.js';

export interface TokenDeps {
  db: CloudDb;
  /** Made once the listen address (the default `iss`) is known. */
  issuer: () => TokenIssuer;
  clock: () => Date;
}

function record(
  db: CloudDb,
  kind: string,
  subject: string | undefined,
  issued: IssuedToken,
  now: Date,
): void {
  // An audit trail of what was minted (never the token itself).
  db.prepare(
    'INSERT INTO issued_tokens (id, kind, subject, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  ).run(issued.id, kind, subject ?? null, now.getTime(), issued.expiresAt.getTime());
}

/** The two token mints (SCEP challenges, gateway user tokens); admin routes. */
export function registerTokenRoutes(app: FastifyInstance, deps: TokenDeps): void {
  app.post('/v1/admin/scep-challenges', async (request, reply) => {
    const body = parseBody(scepChallengeRequest, request.body ?? {}, 'challenge request');
    const { minKeySize, keySize, ...rest } = body;
    const size = keySize ?? minKeySize;
    const issued = await deps
      .issuer()
      .scepChallenge({ ...rest, ...(size !== undefined ? { keySize: size } : {}) });
    record(deps.db, 'scep-challenge', body.subject ?? body.deviceId, issued, deps.clock());
    return reply
      .code(201)
      .send({ id: issued.id, token: issued.token, expiresAt: issued.expiresAt.toISOString() });
  });

  app.post('/v1/admin/tokens', async (request, reply) => {
    const body = parseBody(userTokenRequest, request.body, 'token request');
    const issued = await deps.issuer().userToken({
      sub: body.sub,
      audience: body.audience,
      usernameClaim: body.usernameClaim,
      ttlSeconds: body.ttlSeconds,
      ...(body.claims ? { claims: body.claims } : {}),
    });
    record(deps.db, 'user-token', body.sub, issued, deps.clock());
    return reply
      .code(201)
      .send({ id: issued.id, token: issued.token, expiresAt: issued.expiresAt.toISOString() });
  });
}
