import { resolve } from 'node:path';

/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The admin API socket's file name in the data directory when `admin.api` names no other. */
export const DEFAULT_ADMIN_SOCKET = 'admin.sock';

/** Where the local admin API listens: a Unix socket path (absolute) or a TCP `host:port`. */
export type AdminApiEndpoint = { socket: string } | { listen: string };

/**
 * `admin.api` resolved: TCP only when `listen` is configured, otherwise a Unix socket, by default
 * `<dataDir>/admin.sock`; a relative `socket` is taken from the data directory. Shared by the
 * appliance (which listens) and the CLI (which connects), so both always agree.
 */
export function adminApiEndpoint(config: {
  dataDir: string;
  admin: { api: { socket?: string | undefined; listen?: string | undefined } };
}): AdminApiEndpoint {
  const { api } = config.admin;
  if (api.listen !== undefined) return { listen: api.listen };
  return { socket: resolve(config.dataDir, api.socket ?? DEFAULT_ADMIN_SOCKET) };
}

/** For logs and error messages. */
export function describeAdminApiEndpoint(endpoint: AdminApiEndpoint): string {
  return 'socket' in endpoint ? `unix:${endpoint.socket}` : endpoint.listen;
}
