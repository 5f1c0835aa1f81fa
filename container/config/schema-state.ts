import { z } from 'zod';
import { boundedInt, filePath, section } from './schema-common.js';

export const STATE_BACKENDS = ['sqlite', 'postgres'] as const;

/**
 * libpq's sslmode names, minus the ones that fall back to plain text (allow, prefer): a state
 * database is either spoken to over TLS or deliberately not (a Unix socket, a loopback port).
 */
export const POSTGRES_TLS_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

const postgresTlsSchema = z.strictObject({
  /** Default: verify-full over TCP, disable over a Unix socket (where TLS does not apply). */
  mode: z.enum(POSTGRES_TLS_MODES).optional(),
  /** CA bundle that signs the server's certificate; system roots when null. */
  ca: filePath.nullable().default(null),
  /** Client certificate and key (PEM), for servers that authenticate clients with `cert`. */
  cert: filePath.nullable().default(null),
  key: filePath.nullable().default(null),
});

const postgresSchema = z.strictObject({
  /**
   * postgres://USER@HOST:PORT/DATABASE, or a Unix socket directory as the percent-encoded host
   * (postgres://outpost@%2Frun%2Fpostgresql/outpost). No password and no query: those go in
   * passwordFile and the keys below.
   */
  url: z.string().min(1).max(2048),
  /** The password is read from this file (a mounted secret), never written in the config. */
  passwordFile: filePath.nullable().default(null),
  tls: section(postgresTlsSchema),
  /** Connections per process. */
  poolSize: boundedInt(1, 200).default(10),
  /** TCP, TLS and authentication within this; else the operation fails as unavailable (retryable). */
  connectTimeoutMs: boundedInt(100, 120_000).default(5000),
  /** Server-side limit on one statement (statement_timeout). */
  statementTimeoutMs: boundedInt(100, 600_000).default(15_000),
});

export type PostgresStateConfig = z.output<typeof postgresSchema>;

/**
 * Where the state a site's nodes share lives (inventory, serials, pending requests, challenges,
 * JWS ids, CRL number): the embedded SQLite database in the data directory, or PostgreSQL.
 */
export const stateSchema = z
  .strictObject({
    backend: z.enum(STATE_BACKENDS).default('sqlite'),
    postgres: z.preprocess((v) => (v === null ? undefined : v), postgresSchema.optional()),
  })
  .superRefine((state, ctx) => {
    if (state.postgres) checkPostgres(state.postgres, ctx);
    else if (state.backend === 'postgres') {
      ctx.addIssue({
        code: 'custom',
        path: ['postgres'],
        input: undefined,
        message: 'expected a postgres section with a url when state.backend is postgres',
      });
    }
  });

/** The parts of a checked state.postgres.url the adapter connects with. */
export interface PostgresUrlParts {
  /** A host name or address, or the absolute directory of a Unix socket. */
  host: string;
  port: number;
  user: string;
  database: string;
}

/** The URL with any password replaced, so that an error line never repeats a secret. */
function redacted(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:********@');
}

/** Parses state.postgres.url; returns the reason it is refused as a string. */
export function parsePostgresUrl(text: string): PostgresUrlParts | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'expected a URL like postgres://outpost@db.example:5432/outpost';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return 'expected a URL with scheme postgres or postgresql';
  }
  if (url.password) return 'expected no password in the URL (put it in passwordFile)';
  if (url.search || url.hash)
    return 'expected no query or fragment (TLS and timeouts are keys under state.postgres)';
  const [host, user, database] = [
    decoded(url.hostname).replace(/^\[(.*)\]$/, '$1'),
    decoded(url.username),
    decoded(url.pathname.replace(/^\//, '')),
  ];
  if (!host) return 'expected a host (or a percent-encoded Unix socket directory) in the URL';
  if (host.includes('/') && !host.startsWith('/')) return 'expected a Unix socket directory to be absolute';
  if (!user) return 'expected a user in the URL (postgres://USER@HOST/DATABASE)';
  if (!database || database.includes('/')) return 'expected a database name as the URL path';
  return { host, port: url.port ? Number(url.port) : 5432, user, database };
}

/** Percent-decoding that turns a malformed escape into an empty string (refused as missing). */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '';
  }
}

export function isSocketHost(host: string): boolean {
  return host.startsWith('/');
}

function checkPostgres(pg: PostgresStateConfig, ctx: z.RefinementCtx): void {
  const parts = parsePostgresUrl(pg.url);
  if (typeof parts === 'string') {
    ctx.addIssue({ code: 'custom', path: ['postgres', 'url'], input: redacted(pg.url), message: parts });
    return;
  }
  const tls = pg.tls;
  const issue = (key: string, message: string, input: unknown) =>
    ctx.addIssue({ code: 'custom', path: ['postgres', 'tls', key], input, message });
  if (isSocketHost(parts.host) && tls.mode !== undefined && tls.mode !== 'disable') {
    issue('mode', 'expected disable (or no mode) for a Unix socket, where TLS does not apply', tls.mode);
  }
  const files = { ca: tls.ca, cert: tls.cert, key: tls.key };
  if (tls.mode === 'disable' || (tls.mode === undefined && isSocketHost(parts.host))) {
    for (const [key, value] of Object.entries(files)) {
      if (value !== null) issue(key, 'expected no TLS file when TLS is disabled', value);
    }
  }
  if ((tls.cert === null) !== (tls.key === null)) {
    issue(
      tls.cert === null ? 'cert' : 'key',
      'expected cert and key together (a client certificate and its key)',
      null,
    );
  }
}
