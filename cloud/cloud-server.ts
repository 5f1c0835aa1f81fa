import { join } from 'node:path';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { type JwksContent, LinkLimits } from '../link/schema/index.js';
import { ConfigPusher } from './dispatch/config-pusher.js';
import { JobDispatcher } from './dispatch/job-dispatcher.js';
import { ensurePrivateDir } from './files.js';
import { adminGuard, openAdminToken } from './http/admin-auth.js';
import { registerAdminRoutes } from './http/admin-routes.js';
import { registerEnrollRoute } from './http/enroll-route.js';
import { installErrorHandler } from './http/http-errors.js';
import { registerTokenRoutes } from './http/token-routes.js';
import { Connections } from './link/connections.js';
import type { LinkContext } from './link/link-context.js';
import { LinkServer } from './link/link-server.js';
import { CloseCodes } from './link/link-session.js';
import { CloudCa } from './pki/cloud-ca.js';
import { Appliances } from './store/appliances.js';
import { openCloudDb } from './store/cloud-db.js';
import { Configs } from './store/configs.js';
import { EnrollmentTokens } from './store/enrollment-tokens.js';
import { Events } from './store/events.js';
import { Jobs } from './store/jobs.js';
import { openSigningKey } from './tokens/signing-key.js';
import { TokenIssuer } from './tokens/token-issuer.js';

export interface CloudOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  logger: Logger;
  /** `iss` of the tokens minted; default `https://<host>:<port>`. */
  issuer?: string;
  /** Validity of link client certificates (enrollment and renewal). */
  clientCertDays?: number;
  pingIntervalMs?: number;
  helloTimeoutMs?: number;
  reassignGraceMs?: number;
  clock?: () => Date;
}

export interface RunningCloud {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Admin and enrollment bodies: a config or job payload up to one link message, plus JSON overhead. */
const BODY_LIMIT = LinkLimits.maxMessageBytes + 64 * 1024;

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The reference control plane: HTTPS (own CA) with the enrollment endpoint, the admin API, the JWKS,
 * and the link WebSocket at /v1/link. State lives in `dataDir` (cloud.db, ca.pem/ca.key, server
 * certificate, signing key, admin-token).
 */
export async function startCloud(o: CloudOptions): Promise<RunningCloud> {
  const clock = o.clock ?? (() => new Date());
  const logger = o.logger.child({ component: 'cloud' });
  await ensurePrivateDir(o.dataDir);
  const ca = await CloudCa.open(o.dataDir, [o.host], clock());
  const signingKey = await openSigningKey(o.dataDir);
  const adminToken = await openAdminToken(o.dataDir);
  const db = openCloudDb(join(o.dataDir, 'cloud.db'));
  const clientCertDays = o.clientCertDays ?? 30;

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    https: {
      key: ca.server.keyPem,
      cert: ca.server.certPem,
      ca: [ca.caPem],
      // Asked for, not required: /v1/enroll has no certificate yet. The link upgrade requires it.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
  });
  installErrorHandler(app, logger);

  const appliances = new Appliances(db);
  const configs = new Configs(db);
  const jobs = new Jobs(db);
  const events = new Events(db);
  const enrollmentTokens = new EnrollmentTokens(db);
  const connections = new Connections();
  const dispatcher = new JobDispatcher({
    jobs,
    connections,
    clock,
    logger: o.logger.child({ component: 'cloud-dispatcher' }),
    reassignGraceMs: o.reassignGraceMs ?? 30_000,
  });
  const configPusher = new ConfigPusher({ configs, appliances, connections, clock, logger });
  let issuerUrl = o.issuer ?? '';
  const publicJwk = signingKey.publicJwk as JwksContent['keys'][number];
  const jwks = (): JwksContent => ({ issuer: issuerUrl, keys: [publicJwk] });
  const ctx: LinkContext = {
    appliances,
    events,
    connections,
    dispatcher,
    configPusher,
    ca,
    clientCertDays,
    jwks,
    clock,
    logger: o.logger.child({ component: 'cloud-link' }),
  };
  const link = new LinkServer(ctx, {
    pingIntervalMs: o.pingIntervalMs ?? 30_000,
    helloTimeoutMs: o.helloTimeoutMs ?? 30_000,
  });
  app.server.on('upgrade', (request, socket, head) => link.handleUpgrade(request, socket, head));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/.well-known/jwks.json', async (_request, reply) =>
    reply.header('cache-control', 'max-age=300').send({ keys: [signingKey.publicJwk] }),
  );
  registerEnrollRoute(app, { db, tokens: enrollmentTokens, appliances, ca, clientCertDays, clock, logger });
  let minted: TokenIssuer | undefined;
  const tokenIssuer = () => {
    minted ??= new TokenIssuer(signingKey, issuerUrl, clock);
    return minted;
  };
  await app.register(async (admin) => {
    admin.addHook('onRequest', adminGuard(adminToken));
    registerAdminRoutes(admin, {
      enrollmentTokens,
      appliances,
      configs,
      jobs,
      events,
      connections,
      dispatcher,
      configPusher,
      disconnect: (id) => link.disconnect(id, CloseCodes.revoked, 'appliance revoked'),
      clock,
    });
    registerTokenRoutes(admin, { db, issuer: tokenIssuer, clock });
  });

  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    await link.close();
    await app.close();
    db.close();
    throw new OutpostError(ErrorCodes.unavailable, `cloud cannot listen on ${o.host}:${o.port}`, {
      cause: e,
    });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const url = `https://${formatHost(o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host)}:${port}`;
  issuerUrl ||= url;
  dispatcher.start();
  logger.info({ url, dataDir: o.dataDir, kid: signingKey.kid }, 'cloud listening');

  return {
    url,
    port,
    close: async () => {
      dispatcher.close();
      await link.close();
      await app.close();
      db.close();
    },
  };
}
