import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { type AdminApiEndpoint, describeAdminApiEndpoint } from '../config/admin-api-endpoint.js';
import { parseListenAddress } from '../config/listen-address.js';

export interface AdminApiServerOptions {
  endpoint: AdminApiEndpoint;
  logger: Logger;
  /** Registers the API's routes (each behind the token: see wiring/admin-api.ts). */
  routes: (app: FastifyInstance) => void | Promise<void>;
}

export interface AdminApiServer {
  /** `unix:/path` or `host:port` as bound. */
  where: string;
  close(): Promise<void>;
}

/**
 * The local admin API on a server of its own, apart from the probes: by default a Unix socket in
 * the data directory, mode 0600, so only the service user (and root) can even connect; the bearer
 * token is still checked on every route.
 */
export async function startAdminApiServer(options: AdminApiServerOptions): Promise<AdminApiServer> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    connectionTimeout: 10_000,
    requestTimeout: 10_000,
  });
  await options.routes(app);
  const { endpoint } = options;
  const label = describeAdminApiEndpoint(endpoint);
  try {
    if ('socket' in endpoint) {
      await removeStaleSocket(endpoint.socket);
      await app.listen({ path: endpoint.socket });
      await chmod(endpoint.socket, 0o600);
    } else {
      const where = parseListenAddress(endpoint.listen);
      if (!where)
        throw new OutpostError(ErrorCodes.config, `admin.api.listen: invalid address ${endpoint.listen}`);
      await app.listen({ host: where.host, port: where.port });
    }
  } catch (e) {
    await app.close();
    if (e instanceof OutpostError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutpostError(
      ErrorCodes.unavailable,
      `admin API cannot listen on ${label} (${code ?? 'error'})`,
      {
        cause: e,
      },
    );
  }
  const bound = app.server.address();
  const where = typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : label;
  options.logger.child({ component: 'admin' }).info({ listen: where }, 'admin API listening');
  return { where, close: () => app.close() };
}

/**
 * A socket file left by a process that died is removed; one that still answers belongs to another
 * running appliance on the same data directory, which must not be taken over silently.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) {
    throw new OutpostError(ErrorCodes.config, `admin.api.socket: ${path} exists and is not a socket`);
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (alive) {
    throw new OutpostError(
      ErrorCodes.conflict,
      `another appliance serves the admin API on ${path}; give this one its own admin.api.socket`,
    );
  }
  await unlink(path);
}
