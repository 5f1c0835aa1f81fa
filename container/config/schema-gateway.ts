import { isIP } from 'node:net';
import { z } from 'zod';
import {
  anyCidr,
  boundedInt,
  filePath,
  ipAddress,
  ipv4Cidr,
  ipv6Cidr,
  listenAddress,
  section,
  uniqueList,
  urlWithScheme,
  workerCount,
} from './schema-common.js';

/** A DNS name (a leading `*.` allowed) or an IP address, as a certificate's SAN. */
const tlsName = z
  .string()
  .max(253)
  .refine(
    (name) =>
      isIP(name) !== 0 ||
      /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
        name,
      ),
    { message: 'expected a DNS name or an IP address' },
  );

/**
 * PEM certificate (chain) + key, or one PKCS#12 file with its password in a file; or neither,
 * and then the built-in CA issues the certificate for `names` (default: the host name).
 */
const gatewayTls = z
  .strictObject({
    cert: filePath.optional(),
    key: filePath.optional(),
    pkcs12: filePath.optional(),
    passwordFile: filePath.optional(),
    /** Names of the certificate the built-in CA issues (SANs; the first is the CN). */
    names: z.array(tlsName).min(1).max(32).optional(),
  })
  .refine(
    (t) => {
      const pem = t.cert !== undefined && t.key !== undefined;
      const p12 = t.pkcs12 !== undefined && t.passwordFile !== undefined;
      const anyFile = [t.cert, t.key, t.pkcs12, t.passwordFile].some((f) => f !== undefined);
      return anyFile ? pem !== p12 && t.names === undefined : t.names !== undefined;
    },
    {
      message:
        'expected either cert and key (PEM), or pkcs12 and passwordFile, or names (a certificate from the built-in CA)',
    },
  );

const gatewayAuth = z.strictObject({
  methods: uniqueList(z.enum(['certificate', 'password', 'token']))
    .min(1)
    .default(['certificate']),
  certificate: section(
    z.strictObject({
      /** `builtin` trusts the built-in CA; otherwise a PEM bundle path. */
      ca: z.string().min(1).default('builtin'),
      usernameFrom: z.enum(['cn', 'upn', 'email']).default('cn'),
    }),
  ),
  password: section(
    z.strictObject({
      /** Name of an entry under `directories`. */
      directory: z.string().min(1).nullable().default(null),
    }),
  ),
  token: section(
    z.strictObject({
      /** JWKS file path or URL. */
      jwks: z.string().min(1).nullable().default(null),
      issuer: z.string().min(1).nullable().default(null),
      audience: z.string().min(1).default('outpost-gateway'),
      usernameClaim: z.string().min(1).default('upn'),
    }),
  ),
});

/**
 * Timer ranges, in seconds, as ocserv counts them; the defaults are ocserv's (rekey: clients open
 * a new tunnel, 0 = never). mobileDpd / mobileIdle replace dpd / idle for clients that say they
 * are a phone (X-AnyConnect-Identifier-Platform apple-ios… or android…, what openconnect
 * --os=apple-ios / --os=android sends): ocserv's mobile-dpd (default 1800, DEFAULT_MOBILE_DPD_TIME)
 * and mobile-idle-timeout (default: the idle timeout), so a sleeping phone is neither probed nor
 * dropped every minute and a half.
 */
const timerFields = {
  dpd: boundedInt(5, 3600),
  mobileDpd: boundedInt(5, 3600),
  keepalive: boundedInt(5, 3600),
  idle: boundedInt(60, 7 * 86400),
  /** null: the idle timeout that applies (the group's when it sets one). */
  mobileIdle: boundedInt(60, 7 * 86400).nullable(),
  session: boundedInt(60, 30 * 86400),
  cookie: boundedInt(10, 86400),
  rekey: boundedInt(0, 30 * 86400),
};

const gatewayTimers = z.strictObject({
  dpd: timerFields.dpd.default(90),
  mobileDpd: timerFields.mobileDpd.default(1800),
  keepalive: timerFields.keepalive.default(30),
  idle: timerFields.idle.default(1800),
  mobileIdle: timerFields.mobileIdle.default(null),
  session: timerFields.session.default(3600),
  cookie: timerFields.cookie.default(300),
  rekey: timerFields.rekey.default(172800),
});

/** A group's timers: only what it sets (no defaults, or they would mask the gateway's values). */
const groupTimers = z.strictObject({
  dpd: timerFields.dpd.optional(),
  mobileDpd: timerFields.mobileDpd.optional(),
  keepalive: timerFields.keepalive.optional(),
  idle: timerFields.idle.optional(),
  mobileIdle: timerFields.mobileIdle.optional(),
  session: timerFields.session.optional(),
  cookie: timerFields.cookie.optional(),
  rekey: timerFields.rekey.optional(),
});

/** ocserv's max-clients, max-same-clients and drain-on-start controls. */
const gatewayLimits = z.strictObject({
  maxClients: boundedInt(1, 1_000_000).default(65_536),
  maxSessionsPerUser: boundedInt(1, 1_000_000).default(16),
  /**
   * At this many sessions `/healthz/gateway` answers 503, so a load balancer sends new clients to
   * other nodes (Microsoft Tunnel's 4,990 per server); open sessions are not touched. null =
   * maxClients.
   */
  healthySessions: boundedInt(1, 1_000_000).nullable().default(null),
});

/** A balancer's address or range (`gateway.trustedProxies`): `10.0.0.5`, `10.0.0.0/24`, `fd00::/64`. */
const trustedProxy = z
  .string()
  .max(64)
  .refine((t) => anyCidr.safeParse(t).success || ipAddress.safeParse(t).success, {
    message: 'expected an IPv4 or IPv6 address or CIDR (the load balancer that sends PROXY headers)',
  });

/**
 * Per-group policy (ocserv's config-per-group): the first group whose `match` the identity meets
 * (LDAP group, certificate OU, token groups claim, or user name) gets these settings instead of
 * the gateway's; keys left out keep the gateway's value.
 */
const gatewayGroup = z.strictObject({
  match: z.strictObject({
    groups: z.array(z.string().min(1)).max(256).default([]),
    users: z.array(z.string().min(1)).max(1024).default([]),
  }),
  pool: z.strictObject({ ipv4: ipv4Cidr, ipv6: ipv6Cidr.nullable().default(null) }).optional(),
  dns: z
    .strictObject({
      servers: z.array(ipAddress).max(8).default([]),
      domain: z.string().min(1).nullable().default(null),
      split: z.array(z.string().min(1)).max(256).default([]),
    })
    .optional(),
  routes: z
    .strictObject({
      include: z.array(anyCidr).max(1024).default([]),
      exclude: z.array(anyCidr).max(1024).default([]),
    })
    .optional(),
  timers: groupTimers.optional(),
});

export const gatewaySchema = z.strictObject({
  listen: listenAddress.default('0.0.0.0:8443'),
  /** Absent: the gateway's server certificate is issued by the built-in CA. */
  tls: gatewayTls.optional(),
  pool: section(
    z.strictObject({
      ipv4: ipv4Cidr.default('10.200.100.0/24'),
      ipv6: ipv6Cidr.nullable().default(null),
    }),
  ),
  dns: section(
    z.strictObject({
      servers: z.array(ipAddress).max(8).default([]),
      domain: z.string().min(1).nullable().default(null),
      split: z.array(z.string().min(1)).max(256).default([]),
    }),
  ),
  routes: section(
    z.strictObject({
      include: z.array(anyCidr).max(1024).default([]),
      exclude: z.array(anyCidr).max(1024).default([]),
    }),
  ),
  tun: section(
    z.strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: 'expected an interface name of 1-15 characters' })
        .default('outpost0'),
      mtu: boundedInt(1280, 9000).default(1472),
    }),
  ),
  /** true = masquerade tunnel traffic to the host's address. */
  nat: z.boolean().default(false),
  /**
   * true behind a load balancer in TCP mode with `send-proxy-v2` (HAProxy): every connection from
   * `trustedProxies` must start with a PROXY v2 header, whose source address is the client's
   * (bans, limits, logs, `sessions list`); a header from any other address is refused, and a
   * client connecting directly (no header) still works.
   */
  proxyProtocol: z.boolean().default(false),
  /**
   * This node's name in a site (state.backend: postgres): sessions, and the pool blocks checked
   * for overlap at start-up, are recorded under it. null = the host name.
   */
  nodeName: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'expected a name of 1-64 letters, digits, ., _ or -' })
    .nullable()
    .default(null),
  trustedProxies: z.array(trustedProxy).max(256).default([]),
  /**
   * Processes that carry tunnels (see workerCount). 1: everything in the appliance process. N > 1:
   * the appliance process does TLS handshakes and authentication, then hands each tunnel (its TCP
   * socket and record keys) to one of N worker processes, each with its own TUN device
   * `<tun.name>w<i>` and a slice of every pool. auto = one per CPU. Default 1. Spreads tunnels
   * over cores and past one process's open-files limit.
   */
  workers: workerCount.default(1),
  /**
   * The DTLS data channel (UDP, issue 14): PSK-NEGOTIATE (openconnect ≥ 8, keyed from the TLS
   * session) and the legacy Cisco protocol; clients fall back to TLS when UDP does not get
   * through. `port` absent: the TLS listen port. With workers N > 1, worker i listens on
   * port + i (each session is told its worker's port), so datagrams reach the process holding
   * the session's keys directly. `burstPauseMicros`: a download burst to ONE client longer than a
   * send batch (64 datagrams) pauses this long after each full batch, so that a client draining
   * its socket with one thread (openconnect, 208 KiB receive buffer) is not overrun; the pause
   * holds the process's event loop (no CPU), at most 32 times per turn. 0 = off. Default 100.
   */
  dtls: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      port: boundedInt(1, 65535).optional(),
      burstPauseMicros: boundedInt(0, 1000).default(100),
    }),
  ),
  /**
   * TLS versions offered (always from 1.2) and who protects tunnel records after CONNECT:
   * `outpost` moves each tunnel off OpenSSL onto Outpost's record layer (gateway/tls; faster, and
   * no OpenSSL buffers held per idle session), `openssl` keeps every tunnel on Node's TLSSocket.
   * Connections the record layer cannot take (non-AEAD suites) stay on OpenSSL either way.
   * `tls13Tickets`: TLS 1.3 session tickets sent after each full handshake. Default 0: no
   * AnyConnect client is known to resume TLS 1.3 (openconnect never resumes; ocserv sends no TLS
   * 1.3 ticket), and each ticket costs the handshake a re-parse of the client certificate
   * (gateway/tls/gateway-tls-context.ts). TLS 1.2 resumption (tickets) does not depend on it.
   */
  tlsPolicy: section(
    z.strictObject({
      maxVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.3'),
      recordLayer: z.enum(['outpost', 'openssl']).default('outpost'),
      tls13Tickets: boundedInt(0, 8).default(0),
    }),
  ),
  /**
   * Microsoft Tunnel's internal network access check: the gateway fetches `url` (a page on the
   * network tunnels reach) every `intervalSeconds`; outpost_gateway_probe_success says whether it
   * answered (any HTTP status below 500). null = no probe.
   */
  probe: section(
    z.strictObject({
      url: urlWithScheme(['http:', 'https:']).nullable().default(null),
      intervalSeconds: boundedInt(10, 3600).default(60),
    }),
  ),
  auth: section(gatewayAuth),
  timers: section(gatewayTimers),
  limits: section(gatewayLimits),
  groups: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'expected a group name of letters, digits, _ or -' }),
      gatewayGroup,
    )
    .default({}),
});
