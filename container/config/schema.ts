import { z } from 'zod';
import { workerTunName } from '../../gateway/net/worker-tun-names.js';
import { adminApiEndpoint, MAX_SOCKET_PATH_BYTES } from './admin-api-endpoint.js';
import { boundedInt, filePath, listenAddress, section, uniqueList, urlWithScheme } from './schema-common.js';
import { connectorSchema } from './schema-connector.js';
import { gatewaySchema } from './schema-gateway.js';
import { keysSchema } from './schema-keys.js';
import { stateSchema } from './schema-state.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** RFC 4512 §2.5 attribute description: a descr (keystring) or a numeric OID. */
const ldapAttributeName = z.string().regex(/^(?:[A-Za-z][A-Za-z0-9-]{0,127}|[0-2](?:\.(?:0|[1-9]\d*))+)$/, {
  message: 'expected an LDAP attribute name (letters, digits, hyphens) or a numeric OID',
});

/** An LDAP / Active Directory connection, referred to by name (e.g. gateway.auth.password.directory). */
const directorySchema = z.strictObject({
  url: urlWithScheme(['ldap:', 'ldaps:']),
  bindDn: z.string().min(1).nullable().default(null),
  /** The bind password is read from this file (a mounted secret), never written in the config. */
  bindPasswordFile: filePath.nullable().default(null),
  baseDn: z.string().min(1),
  /** ldap:// only: upgrade with StartTLS before binding. */
  startTls: z.boolean().default(false),
  /** CA bundle for ldaps:// / StartTLS; system roots when null. */
  ca: filePath.nullable().default(null),
  timeoutMs: boundedInt(100, 120_000).default(10_000),
  sizeLimit: boundedInt(1, 100_000).default(1000),
  /** Attribute a username is looked up by (Active Directory: sAMAccountName; OpenLDAP: uid). */
  usernameAttribute: z.enum(['sAMAccountName', 'uid', 'userPrincipalName', 'mail']).default('sAMAccountName'),
  /** Group membership from the user's memberOf attribute, or by searching groups for the member. */
  groupsFrom: z.enum(['memberOf', 'search']).default('memberOf'),
  /** Attribute preset for identity lookups (connector enrichment, disabled accounts). */
  schema: z.enum(['activeDirectory', 'openldap']).default('activeDirectory'),
  /** Overrides of the preset: logical name (AD attribute name) → attribute in this directory. */
  attributes: section(
    z.strictObject({
      userPrincipalName: ldapAttributeName.optional(),
      mail: ldapAttributeName.optional(),
      sAMAccountName: ldapAttributeName.optional(),
      /** Binary (AD) or text ("S-1-5-…", sambaSID) SID. */
      objectSid: ldapAttributeName.optional(),
      /** AD: bit 0x2 marks a disabled account; null turns the check off. */
      userAccountControl: ldapAttributeName.nullable().optional(),
      /** Other directories: disabled when this attribute has one of `values` (any value when empty); null = none. */
      disabled: z
        .strictObject({
          attribute: ldapAttributeName,
          values: z.array(z.string().min(1).max(256)).max(32).default([]),
        })
        .nullable()
        .optional(),
    }),
  ),
  /** Page size of paged searches (RFC 2696); AD's MaxPageSize is 1000. */
  pageSize: boundedInt(1, 10_000).default(500),
});

/**
 * Absent (or null) means standalone: no link to a control plane, unless `outpost enroll` left
 * DATA/link/link.json, which supplies the URL and the pinned CA; keys here override it.
 */
const cloudSchema = z.strictObject({
  /** Base URL of the control plane; the link is wss://…/v1/link. Default: the enrolled one. */
  url: urlWithScheme(['https:', 'wss:']).optional(),
  /** CA bundle that signs the cloud's server certificate; default: the one pinned at enrollment, else system roots. */
  ca: filePath.optional(),
  /** HTTP(S) proxy reached with CONNECT (http://[user:pass@]proxy:3128). */
  proxy: urlWithScheme(['http:', 'https:']).optional(),
  /** Jobs run at once; default 2 × available cores. */
  jobConcurrency: boundedInt(1, 256).optional(),
  /** A job running longer is reported failed (retryable). */
  jobTimeoutSeconds: boundedInt(1, 86_400).default(600),
  health: section(
    z.strictObject({
      intervalSeconds: boundedInt(5, 3600).default(60),
      /** A URL inside the corporate network fetched for the internal network probe; null = no probe. */
      probeUrl: urlWithScheme(['http:', 'https:']).nullable().default(null),
      probeTimeoutMs: boundedInt(100, 60_000).default(5000),
    }),
  ),
  /** Renew the agent certificate at this fraction of its lifetime (0: at every connection, for drills and tests). */
  renewAtFraction: z
    .number()
    .min(0)
    .max(0.95)
    .default(2 / 3),
  /** A ping this often; no pong by the next one drops the connection. */
  pingIntervalSeconds: boundedInt(1, 600).default(20),
  /** TCP, proxy, TLS and WebSocket upgrade, and then the cloud's welcome, each within this. */
  handshakeTimeoutSeconds: boundedInt(1, 300).default(15),
  /** Reconnect delays: full jitter under min(capMs, baseMs × 2^attempt). */
  backoff: section(
    z.strictObject({
      baseMs: boundedInt(10, 60_000).default(500),
      capMs: boundedInt(100, 3_600_000).default(60_000),
    }),
  ),
});

const configObject = z.strictObject({
  /** Default depends on where Outpost runs; loadConfig fills it in (see default-data-dir.ts). */
  dataDir: z.string().min(1).default('./data'),
  roles: uniqueList(z.enum(['gateway', 'connector']))
    .min(1)
    .default(['gateway', 'connector']),
  admin: section(
    z.strictObject({
      /** The read-only probes: /healthz, /readyz, /metrics (no authentication; safe to publish). */
      listen: listenAddress.default('127.0.0.1:9090'),
      /**
       * The local admin API (sessions list/disconnect/drain), on its own server: a Unix socket (0600;
       * default `admin.sock` in the data directory, relative paths are taken from there), or TCP
       * when `listen` is given. Either way every route needs the admin token.
       */
      api: section(
        z.strictObject({
          socket: filePath.optional(),
          listen: listenAddress.optional(),
        }),
      ),
    }),
  ),
  log: section(z.strictObject({ level: z.enum(LOG_LEVELS).default('info') })),
  cloud: z.preprocess((v) => (v === null ? undefined : v), cloudSchema.optional()),
  gateway: section(gatewaySchema),
  connector: section(connectorSchema),
  /** Where the state a site's connectors share lives (schema-state.ts). */
  state: section(stateSchema),
  /** Where the CA, RA and OCSP signing keys live: files (default) or a PKCS#11 token. */
  keys: section(keysSchema),
  directories: z.preprocess(
    (v) => (v === null ? undefined : v),
    z
      .record(
        z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'expected a name of letters, digits, _ or -' }),
        directorySchema,
      )
      .default({}),
  ),
});

type ConfigShape = z.output<typeof configObject>;

/** Checks that span sections: references by name must resolve, enabled methods must be configured. */
function checkCrossReferences(config: ConfigShape, ctx: z.RefinementCtx): void {
  checkAdminApi(config, ctx);
  if (config.roles.includes('connector')) checkProfileDirectories(config, ctx);
  const auth = config.gateway.auth;
  if (!config.roles.includes('gateway')) return;
  checkGatewayWorkers(config.gateway, ctx);
  if (config.gateway.proxyProtocol && config.gateway.trustedProxies.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'trustedProxies'],
      input: [],
      message: "expected the load balancers' addresses or CIDRs when gateway.proxyProtocol is true",
    });
  }
  if (auth.methods.includes('password')) {
    const name = auth.password.directory;
    if (name === null || !Object.hasOwn(config.directories, name)) {
      const known = Object.keys(config.directories);
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'auth', 'password', 'directory'],
        input: name,
        message: `expected the name of an entry under directories (${known.length ? known.join(', ') : 'none defined'}) when password auth is enabled`,
      });
    }
  }
  if (auth.methods.includes('token') && auth.token.jwks === null) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'auth', 'token', 'jwks'],
      input: null,
      message: 'expected a JWKS file path or URL when token auth is enabled',
    });
  }
}

/**
 * Worker processes receive tunnels as taken-over record state, so OpenSSL's record layer cannot
 * be chosen with them; and each worker's TUN name `<tun.name>w<i>` must fit IFNAMSIZ (15 chars).
 */
function checkGatewayWorkers(gateway: ConfigShape['gateway'], ctx: z.RefinementCtx): void {
  if (gateway.workers <= 1) return;
  if (gateway.tlsPolicy.recordLayer !== 'outpost') {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'tlsPolicy', 'recordLayer'],
      input: gateway.tlsPolicy.recordLayer,
      message:
        'expected outpost when gateway.workers is more than 1 (tunnels move to workers as record-layer state)',
    });
  }
  const longest = workerTunName(gateway.tun.name, gateway.workers - 1);
  if (longest.length > 15) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'tun', 'name'],
      input: gateway.tun.name,
      message: `expected a name of at most ${15 - 1 - String(gateway.workers - 1).length} characters with ${gateway.workers} workers (worker TUNs are named like ${longest})`,
    });
  }
}

/**
 * The admin API is a socket or a TCP address, not both; on TCP it is a server of its own, so it
 * cannot share the probes' port; a socket path must fit `sun_path` (108 bytes with its NUL).
 */
function checkAdminApi(config: ConfigShape, ctx: z.RefinementCtx): void {
  const api = config.admin.api;
  if (api.socket !== undefined && api.listen !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'api'],
      input: api,
      message: 'expected either socket or listen, not both',
    });
    return;
  }
  if (api.listen !== undefined && api.listen === config.admin.listen) {
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'api', 'listen'],
      input: api.listen,
      message:
        'expected an address other than admin.listen (the probes stay unauthenticated on their own port)',
    });
  }
  const endpoint = adminApiEndpoint(config);
  if ('socket' in endpoint && Buffer.byteLength(endpoint.socket) > MAX_SOCKET_PATH_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'api', 'socket'],
      input: endpoint.socket,
      message: `expected a socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes (set admin.api.socket to a shorter one)`,
    });
  }
}

/** A profile's `directory` must name an entry under directories. */
function checkProfileDirectories(config: ConfigShape, ctx: z.RefinementCtx): void {
  for (const [name, profile] of Object.entries(config.connector.profiles)) {
    const directory = profile.directory;
    if (directory === undefined || Object.hasOwn(config.directories, directory)) continue;
    const known = Object.keys(config.directories);
    ctx.addIssue({
      code: 'custom',
      path: ['connector', 'profiles', name, 'directory'],
      input: directory,
      message: `expected the name of an entry under directories (${known.length ? known.join(', ') : 'none defined'})`,
    });
  }
}

export const configSchema = configObject.superRefine(checkCrossReferences);

/** The validated, fully defaulted configuration every role receives. */
export type OutpostConfig = z.output<typeof configSchema>;
