import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import type { PostgresStateOptions } from '../../connector/store/postgres/pg-state.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { packageVersion } from '../cli/package-version.js';
import { isSocketHost, type PostgresStateConfig, parsePostgresUrl } from '../config/schema-state.js';

export type PostgresTlsMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** What TLS a checked state.postgres section means: none on a Unix socket, verify-full by default. */
export function postgresTlsMode(config: PostgresStateConfig, host: string): PostgresTlsMode {
  return config.tls.mode ?? (isSocketHost(host) ? 'disable' : 'verify-full');
}

async function readConfigured(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    // the path is configuration, not a secret; the file's content never appears
    throw new OutpostError(ErrorCodes.config, `cannot read state.postgres.${key}`, {
      cause: e,
      detail: path,
    });
  }
}

/**
 * libpq's sslmode in node:tls terms: require encrypts without checking the server; verify-ca
 * checks the chain to `ca` (or the system roots) but not the name; verify-full checks both.
 */
async function tlsOptions(
  config: PostgresStateConfig,
  mode: PostgresTlsMode,
): Promise<false | ConnectionOptions> {
  if (mode === 'disable') return false;
  const { ca, cert, key } = config.tls;
  const files: ConnectionOptions = {
    ...(ca ? { ca: await readConfigured(ca, 'tls.ca') } : {}),
    ...(cert ? { cert: await readConfigured(cert, 'tls.cert') } : {}),
    ...(key ? { key: await readConfigured(key, 'tls.key') } : {}),
  };
  if (mode === 'require') return { ...files, rejectUnauthorized: false };
  if (mode === 'verify-ca')
    return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...files, rejectUnauthorized: true };
}

/**
 * The adapter's options from a validated `state.postgres` section: reads the password file (a
 * mounted secret; a trailing newline is not part of it) and the TLS files once, at start.
 */
export async function postgresStateOptions(
  config: PostgresStateConfig,
  migrations: readonly string[],
): Promise<PostgresStateOptions> {
  const parts = parsePostgresUrl(config.url);
  if (typeof parts === 'string') throw new OutpostError(ErrorCodes.config, `state.postgres.url: ${parts}`);
  let secret: string | undefined;
  if (config.passwordFile) {
    secret = (await readConfigured(config.passwordFile, 'passwordFile')).replace(/\r?\n$/, '');
    if (!secret) throw new OutpostError(ErrorCodes.config, 'state.postgres.passwordFile is empty');
  }
  const password = secret;
  return {
    ...parts,
    ...(password !== undefined ? { password: () => password } : {}),
    ssl: await tlsOptions(config, postgresTlsMode(config, parts.host)),
    poolSize: config.poolSize,
    connectTimeoutMs: config.connectTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    migrations,
    binary: `outpost ${packageVersion()}`,
  };
}
