import { existsSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { BanPoints } from '../../gateway/auth/ban-points.js';
import { sourceAddressKey } from '../../gateway/auth/source-address-key.js';
import { AuthDialogue } from '../../gateway/control/auth-dialogue.js';
import { type GatewayHealth, gatewayHealth } from '../../gateway/control/gateway-health.js';
import type { GatewayPolicy } from '../../gateway/control/gateway-policy.js';
import { GatewayServer } from '../../gateway/control/gateway-server.js';
import { type GroupPolicy, isGroupMember, policySelector } from '../../gateway/control/policy-selector.js';
import { DtlsService } from '../../gateway/dtls/dtls-service.js';
import { DtlsStats, dtlsDropReasons, dtlsEvents } from '../../gateway/dtls/dtls-stats.js';
import { runCommand } from '../../gateway/net/command-runner.js';
import { applyNat, removeNat } from '../../gateway/net/nat-rules.js';
import { assertPreflight } from '../../gateway/net/preflight.js';
import { configureTunInterface } from '../../gateway/net/tun-interface.js';
import { workerTunName, workerTunPattern } from '../../gateway/net/worker-tun-names.js';
import { TrustedProxies } from '../../gateway/proxy/trusted-proxies.js';
import type { Identity } from '../../gateway/session/identity.js';
import type { Session } from '../../gateway/session/session.js';
import { type SessionEndReason, SessionTable } from '../../gateway/session/session-table.js';
import { type SessionMatch, sessionMatches } from '../../gateway/site/session-store.js';
import type { SiteSessions } from '../../gateway/site/site-sessions.js';
import { loadEvp } from '../../gateway/tls/evp.js';
import { LinuxTunDevice } from '../../gateway/tun/linux-tun-device.js';
import type { PacketDevice } from '../../gateway/tun/packet-device.js';
import type { TunnelCounters } from '../../gateway/tunnel/counters.js';
import { WorkerTunnels } from '../../gateway/workers/primary-worker-tunnels.js';
import type { Readiness } from '../admin/readiness.js';
import { packageVersion } from '../cli/package-version.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { openConnectorCore } from './connector-core.js';
import { gatewayAuth } from './gateway-auth.js';
import { type PoolSet, poolSet } from './gateway-pool-sets.js';
import { startInternalProbe } from './gateway-probe.js';
import { openGatewaySite } from './gateway-site.js';
import { configuredTlsFiles, gatewayTls, readConfiguredTls, tlsFilesOf } from './gateway-tls.js';
import { watchServedCertificate } from './gateway-tls-expiry.js';
import type { WorkerInit } from './gateway-worker-init.js';
import { startGatewayWorkers } from './gateway-workers.js';

export interface GatewayHandle {
  sessions: SessionTable;
  /** Ban points per source address (kept across reconfigurations): the admin API lists and lifts bans. */
  bans: Pick<BanPoints, 'bans' | 'forget'>;
  /**
   * Ends the matching sessions now (`sessions disconnect`, `session.revoke`); in a site, on
   * whichever node they run. Returns how many.
   */
  closeSessions(match: SessionMatch, reason: SessionEndReason): Promise<number>;
  /**
   * Applies a new config's live keys (see reconfigure/config-diff.ts): auth methods and their
   * settings, DNS, routes, timers, groups' settings, limits and the listen address. Tunnels already
   * open keep going. Throws (and keeps the running settings) when the new settings do not load.
   */
  reconfigure(next: OutpostConfig): Promise<void>;
  /**
   * Drain mode: no new sessions, /readyz and /healthz/gateway 503, open tunnels continue. With
   * `migrate`, the listener closes too and every tunnel ends without a TERMINATE frame, so its
   * client reconnects with its cookie (elsewhere, behind a balancer). Off listens again.
   */
  drain(on: boolean, migrate: boolean): Promise<{ drain: boolean; migrated: number }>;
  /** What `GET /healthz/gateway` answers (gateway-health.ts). */
  health(): GatewayHealth;
}

/**
 * Starts the gateway role: preflight (TUN, CAP_NET_ADMIN, forwarding), the TUN device with the
 * pool's gateway address, optional NAT, authenticators, the session table and the TLS listener.
 * Every piece registers its closer, so shutdown removes NAT rules and closes the TUN last.
 */
export async function startGatewayRole(
  config: OutpostConfig,
  logger: Logger,
  registry: ClusterRegistry,
  readiness: Readiness,
  shutdown: ShutdownManager,
): Promise<GatewayHandle> {
  const log = logger.child({ component: 'gateway' });
  const gw = config.gateway;
  assertPreflight({ ipv6: gw.pool.ipv6 !== null });

  // The gateway reads the CA and revocations through the connector's stores, which stay on this
  // node's SQLite until they move onto the site's PostgreSQL (state.backend: postgres covers the
  // gateway's sessions, cookies and bans: gateway-site.ts).
  const core = await openConnectorCore({ ...config, state: { backend: 'sqlite' } }, log);
  shutdown.register('gateway CA access', () => core.close());
  const tls = await gatewayTls(config, core, log);
  const auth = await gatewayAuth(config, core);
  let current = { config, auth };
  shutdown.register('gateway authenticators', () => current.auth.close());

  const workerCount = gw.workers;
  const main = poolSet(gw.pool, workerCount);
  const groupPools = groupPoolSets(config, workerCount);
  const groups = groupSelectors(gw, groupPools, main);
  const allPools = [...main.pools, ...[...groupPools.values()].flatMap((g) => g.pools)];
  const tunNames = workerCount > 1 ? workerTunPattern(gw.tun.name) : gw.tun.name;
  // The TUN(s) come before NAT and routes: with one process it is opened here, with workers each
  // opens its own, routing its blocks of every pool.
  const where = parseListenAddress(gw.listen)!;
  const dtlsPort = gw.dtls.enabled ? (gw.dtls.port ?? where.port) : undefined;
  const dtlsStats = new DtlsStats();
  const workerTunnels =
    workerCount > 1
      ? new WorkerTunnels(
          tunnelCounters(() => metrics),
          log,
          dtlsStats,
        )
      : undefined;
  const device = workerTunnels ? undefined : await openTun(gw, main, groupPools, shutdown);
  const dtls = await startDtls(gw, where.host, dtlsPort, workerCount, dtlsStats, log, shutdown);
  if (gw.nat) await applyAllNat(tunNames, main, groups, groupPools, shutdown);
  const metrics = gatewayMetrics(registry, () => sessions);
  dtlsMetrics(registry, dtlsStats);
  const sessions = new SessionTable(sessionLimitsOf(gw));
  let policyFor = policySelector(
    groups.map((g) => g.selector),
    { policy: policyFrom(gw, main), addresses: main.addresses },
  );
  const site = await openGatewaySite(config, {
    table: sessions,
    blocks: poolBlocks(main, groupPools),
    addressesFor: (identity) => policyFor(identity).addresses,
    bans: auth.bans,
    gateway: () => current.config.gateway,
    readiness,
    shutdown,
    logger: log,
  });
  logBans(auth.bans, log, site);
  const dialogue = new AuthDialogue({
    methods: gw.auth.methods,
    authenticators: auth.authenticators,
    sessions,
    bans: auth.bans,
    logger: log,
    onFailure: (reason) => metrics.authFailures.inc({ reason }),
    ...(site ? { sessionCreated: (session: Session) => site.created(session) } : {}),
    ...selectableGroupsOf(groups),
  });
  const server = new GatewayServer({
    tls: {
      cert: tls.cert,
      key: tls.key,
      ...(auth.clientCaPem ? { clientCa: [Buffer.from(auth.clientCaPem)] } : {}),
      maxVersion: gw.tlsPolicy.maxVersion,
      recordLayer: gw.tlsPolicy.recordLayer,
      tls13Tickets: gw.tlsPolicy.tls13Tickets,
    },
    dialogue,
    sessions,
    dataPlane: workerTunnels ? { workers: workerTunnels } : { device: device! },
    bans: auth.bans,
    policyFor,
    ...(site ? { site } : {}),
    tunMtu: gw.tun.mtu,
    ...(dtls ? { dtls } : {}),
    counters: tunnelCounters(() => metrics),
    sessionEnded: (session) => metrics.sessionEnded(session),
    proxyProtocol: proxyProtocolOf(gw),
    proxyRefused: (reason) => metrics.proxyRefusals.inc({ reason }),
    shed: () => metrics.shed.inc(),
    handshakeTimedOut: () => metrics.handshakeTimeouts.inc(),
    logger: log,
  });
  const workers = workerTunnels
    ? await startGatewayWorkers({
        count: workerCount,
        init: (worker) => ({
          ...workerInitOf(config, worker, main, groupPools),
          ...(dtlsPort !== undefined
            ? {
                dtls: {
                  host: where.host,
                  port: dtlsPort + worker,
                  burstPauseMicros: gw.dtls.burstPauseMicros,
                },
              }
            : {}),
        }),
        tunnels: workerTunnels,
        logger: log,
        shutdown,
      })
    : undefined;
  await server.listen(where.host, where.port);
  shutdown.register('gateway listener', () => server.close());
  const timer = setInterval(() => {
    sessions.expire();
    for (const pool of allPools) pool.expire();
    metrics.sessions.set(sessions.size);
  }, 1000);
  timer.unref();
  shutdown.register('gateway timers', () => clearInterval(timer));
  let draining = false;
  readiness.register('gateway', async () => {
    const running = workers?.ready() ?? workerCount;
    if (draining) return { ok: false, detail: 'draining (`outpost sessions drain off` ends it)' };
    return {
      ok: server.server.listening && running === workerCount,
      ...(running === workerCount ? {} : { detail: `${running} of ${workerCount} tunnel workers running` }),
    };
  });
  watchTlsFiles(config, server, log, shutdown);
  watchServedCertificate(config, readiness, registry);
  startInternalProbe(config, registry, shutdown);
  log.info(
    {
      listen: gw.listen,
      proxyProtocol: gw.proxyProtocol ? gw.trustedProxies : false,
      dtls:
        dtlsPort === undefined
          ? 'off'
          : `udp ${dtlsPort}${workerCount > 1 ? `..${dtlsPort + workerCount - 1}` : ''}`,
      tun: tunNames,
      workers: workerCount,
      pool: gw.pool.ipv4,
      methods: gw.auth.methods,
      tls: tls.source,
    },
    'gateway ready',
  );
  const reconfigure = async (next: OutpostConfig) => {
    const ngw = next.gateway;
    const nextAuth = await gatewayAuth(next, core, current.auth.bans);
    try {
      const previous = parseListenAddress(current.config.gateway.listen)!;
      const wanted = parseListenAddress(ngw.listen)!;
      if (ngw.listen !== current.config.gateway.listen)
        await server.relisten(wanted.host, wanted.port, previous);
    } catch (e) {
      await nextAuth.close();
      throw e;
    }
    const nextGroups = groupSelectors(ngw, groupPools, main);
    dialogue.reconfigure({
      methods: ngw.auth.methods,
      authenticators: nextAuth.authenticators,
      ...selectableGroupsOf(nextGroups),
    });
    policyFor = policySelector(
      nextGroups.map((g) => g.selector),
      { policy: policyFrom(ngw, main), addresses: main.addresses },
    );
    server.setPolicy(policyFor);
    server.setClientCa(nextAuth.clientCaPem ? [Buffer.from(nextAuth.clientCaPem)] : undefined);
    server.setTlsPolicy(ngw.tlsPolicy);
    server.setProxyProtocol(proxyProtocolOf(ngw));
    sessions.setLimits(sessionLimitsOf(ngw));
    const replaced = current.auth;
    current = { config: next, auth: nextAuth };
    await replaced.close();
    log.info({ listen: ngw.listen, methods: ngw.auth.methods }, 'gateway reconfigured');
  };
  const drain = async (on: boolean, migrate: boolean) => {
    sessions.setDrain(on);
    draining = on;
    const migrated = on && migrate ? server.migrateTunnels() : 0;
    if (!on && !server.server.listening) {
      const where = parseListenAddress(current.config.gateway.listen)!;
      await server.listen(where.host, where.port);
    }
    log.warn({ drain: on, migrated }, on ? 'gateway draining' : 'gateway accepting new sessions again');
    return { drain: on, migrated };
  };
  const tunDevices =
    workerCount > 1
      ? Array.from({ length: workerCount }, (_, i) => workerTunName(gw.tun.name, i))
      : [gw.tun.name];
  const poolSets = [main, ...groupPools.values()];
  const health = () =>
    gatewayHealth({
      draining,
      tunUp: tunDevices.every((name) => existsSync(`/sys/class/net/${name}`)),
      workers: { running: workers?.ready() ?? workerCount, configured: workerCount },
      sessions: sessions.size,
      healthySessions:
        current.config.gateway.limits.healthySessions ?? current.config.gateway.limits.maxClients,
      pools: poolSets.flatMap(poolUsage),
    });
  const closeSessions = (match: SessionMatch, reason: SessionEndReason) =>
    site
      ? site.close(match, reason)
      : Promise.resolve(sessions.closeWhere((s) => sessionMatches(s, match), reason));
  const bans = {
    bans: () => auth.bans.bans(),
    forget: (address: string) => {
      site?.unbanned(sourceAddressKey(address));
      return auth.bans.forget(address);
    },
  };
  return { sessions, bans, reconfigure, drain, health, closeSessions };
}

/** Addresses of a pool set per family, summed over its per-worker blocks. */
function poolUsage(set: PoolSet): Array<{ cidr: string; capacity: number; active: number }> {
  return [set.ipv4, set.ipv6].flatMap((cidr) => {
    if (!cidr) return [];
    const family = cidr.includes(':') ? 6 : 4;
    const pools = set.pools.filter((p) => p.family === family);
    return [
      {
        cidr,
        capacity: pools.reduce((sum, p) => sum + p.capacity, 0),
        active: pools.reduce((sum, p) => sum + p.stats().active, 0),
      },
    ];
  });
}

/** gateway.proxyProtocol: PROXY v2 from the trusted balancers only (gateway/proxy). */
function proxyProtocolOf(gw: GatewayConfig): { trusted: TrustedProxies } | undefined {
  return gw.proxyProtocol ? { trusted: new TrustedProxies(gw.trustedProxies) } : undefined;
}

function sessionLimitsOf(gw: GatewayConfig) {
  return {
    maxClients: gw.limits.maxClients,
    maxSessionsPerUser: gw.limits.maxSessionsPerUser,
    cookieTimeoutSeconds: gw.timers.cookie,
    sessionTimeoutSeconds: gw.timers.session,
  };
}

/** The login form's group choice (ocserv's select-group), when groups are configured. */
function selectableGroupsOf(groups: Array<{ name: string; selector: GroupPolicy }>) {
  if (groups.length === 0) return {};
  return {
    selectableGroups: {
      names: groups.map((g) => g.name),
      isMember: (identity: Identity, name: string) => {
        const group = groups.find((g) => g.name === name);
        return group !== undefined && isGroupMember(group.selector, identity);
      },
    },
  };
}

/**
 * Gateway metrics. Byte and packet totals are read at scrape time from the sessions (plus what
 * ended sessions carried), so the packet path never touches a metric.
 */
function gatewayMetrics(registry: ClusterRegistry, sessions: () => SessionTable) {
  const ended = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
  const total = (key: keyof typeof ended) =>
    ended[key] +
    sessions()
      .list()
      .reduce((sum, s) => sum + s[key], 0);
  const traffic = (name: string, help: string, key: keyof typeof ended) =>
    scrapedCounter(registry, name, help, () => total(key));
  traffic('outpost_gateway_received_bytes_total', 'IP bytes received from clients', 'bytesIn');
  traffic('outpost_gateway_sent_bytes_total', 'IP bytes sent to clients', 'bytesOut');
  traffic('outpost_gateway_received_packets_total', 'IP packets received from clients', 'packetsIn');
  traffic('outpost_gateway_sent_packets_total', 'IP packets sent to clients', 'packetsOut');
  return {
    /** Adds an ended session's traffic to the running totals. */
    sessionEnded(s: { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }) {
      ended.bytesIn += s.bytesIn;
      ended.bytesOut += s.bytesOut;
      ended.packetsIn += s.packetsIn;
      ended.packetsOut += s.packetsOut;
    },
    authFailures: new Counter({
      name: 'outpost_gateway_auth_failures_total',
      help: 'Refused authentications by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    sessions: new Gauge({ name: 'outpost_gateway_sessions', help: 'VPN sessions', registers: [registry] }),
    tunnels: new Counter({
      name: 'outpost_gateway_tunnels_total',
      help: 'Tunnels opened, by record layer (outpost: taken over from OpenSSL after CONNECT)',
      labelNames: ['records'],
      registers: [registry],
    }),
    tlsFailures: new Counter({
      name: 'outpost_gateway_tls_failures_total',
      help: 'Taken-over tunnels closed at the TLS record level (bad-record-mac, record-error, peer-alert)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    shed: new Counter({
      name: 'outpost_gateway_connections_shed_total',
      help: 'Connections closed before their TLS handshake in a reconnect storm: 16,384 already waiting for one of the 256 handshake places of a busy process, or waited 30 s',
      registers: [registry],
    }),
    handshakeTimeouts: new Counter({
      name: 'outpost_gateway_handshake_timeouts_total',
      help: 'Connections closed because their TLS handshake did not finish within 10 s (slow or stalled clients, or an overloaded process)',
      registers: [registry],
    }),
    proxyRefusals: new Counter({
      name: 'outpost_gateway_proxy_refusals_total',
      help: 'Connections refused at the PROXY v2 header (untrusted-header, missing-header, malformed, no-client-address, timeout, closed)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    drops: new Counter({
      name: 'outpost_gateway_dropped_packets_total',
      help: 'Packets dropped by reason (spoofed, malformed, backpressure, tun-full, internal: a fault in the packet path, logged) and channel (tls, dtls)',
      labelNames: ['reason', 'channel'],
      registers: [registry],
    }),
  };
}

/**
 * The DTLS data channel: with one process its UDP socket here, next to the tunnels; with workers
 * each worker opens its own (port + i, see the worker init) and this process only tells clients
 * which. Undefined when gateway.dtls is off.
 */
async function startDtls(
  gw: GatewayConfig,
  host: string,
  port: number | undefined,
  workers: number,
  stats: DtlsStats,
  log: Logger,
  shutdown: ShutdownManager,
): Promise<{ service?: DtlsService; workerPort?: (worker: number) => number } | undefined> {
  if (port === undefined) return undefined;
  if (workers > 1) return { workerPort: (worker) => port + worker };
  const evp = loadEvp();
  if (!evp) {
    log.warn('koffi cannot reach OpenSSL: no DTLS (tunnels use TLS only)');
    return undefined;
  }
  const service = await DtlsService.start({
    evp,
    host,
    port,
    maxPacket: gw.tun.mtu,
    logger: log,
    stats,
    burstPauseMicros: gw.dtls.burstPauseMicros,
  });
  shutdown.register('gateway DTLS socket', () => service.close());
  return { service };
}

/** The DTLS channel's counters (dtls-stats.ts), read at scrape time. */
function dtlsMetrics(registry: ClusterRegistry, stats: DtlsStats): void {
  const total = (name: string, help: string, read: () => number) =>
    scrapedCounter(registry, name, help, read);
  total(
    'outpost_gateway_dtls_received_packets_total',
    'IP packets received from clients over DTLS',
    () => stats.packetsIn,
  );
  total(
    'outpost_gateway_dtls_sent_packets_total',
    'IP packets sent to clients over DTLS',
    () => stats.packetsOut,
  );
  total(
    'outpost_gateway_dtls_received_bytes_total',
    'IP bytes received from clients over DTLS',
    () => stats.bytesIn,
  );
  total('outpost_gateway_dtls_sent_bytes_total', 'IP bytes sent to clients over DTLS', () => stats.bytesOut);
  total(
    'outpost_gateway_dtls_to_tls_packets_total',
    'Packets for a DTLS client sent over TLS instead (larger than the DTLS MTU, or the channel just closed)',
    () => stats.toTls,
  );
  total(
    'outpost_gateway_dtls_send_failures_total',
    'Sealed DTLS datagrams the kernel did not take (UDP send buffer full), lost like on a full link',
    () => stats.sendFailed,
  );
  total(
    'outpost_gateway_dtls_burst_pauses_total',
    'Pauses of the event loop (gateway.dtls.burstPauseMicros each) between send batches of a burst to one DTLS client',
    () => stats.burstPauses,
  );
  const labelled = (
    name: string,
    help: string,
    label: string,
    values: readonly string[],
    read: (v: string) => number,
  ) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of values) this.inc({ [label]: v }, read(v));
      },
    });
  labelled(
    'outpost_gateway_dtls_dropped_datagrams_total',
    'DTLS datagrams dropped by reason (unauthenticated ones cost at most one decryption and no state)',
    'reason',
    dtlsDropReasons,
    (r) => stats.drops[r as keyof typeof stats.drops],
  );
  labelled(
    'outpost_gateway_dtls_handshakes_total',
    'DTLS handshake steps: hello-verify (stateless cookie sent), handshake-started, established',
    'step',
    dtlsEvents,
    (e) => stats.events[e as keyof typeof stats.events],
  );
}

/** A counter whose value is read at scrape time (totals the packet path keeps as plain numbers). */
function scrapedCounter(registry: ClusterRegistry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** Reloads the configured certificate (PEM pair or PKCS#12) when one of its files changes (checked every 5 s). */
function watchTlsFiles(
  config: OutpostConfig,
  server: GatewayServer,
  log: Logger,
  shutdown: ShutdownManager,
): void {
  const configured = configuredTlsFiles(config);
  if (!configured) return;
  const files = tlsFilesOf(configured);
  const reload = async () => {
    try {
      const material = await readConfiguredTls(configured);
      server.reloadTls(material.cert, material.key);
      log.info({ cert: material.source }, 'gateway TLS certificate reloaded');
    } catch (e) {
      log.error({ err: e, files }, 'gateway TLS certificate not reloaded; the previous one stays in use');
    }
  };
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs) void reload();
  };
  for (const file of files) watchFile(file, { interval: 5000, persistent: false }, onChange);
  shutdown.register('gateway TLS watch', () => {
    for (const file of files) unwatchFile(file, onChange);
  });
}

type GatewayConfig = OutpostConfig['gateway'];

/** The CONNECT policy of the gateway itself, or of a group with its overrides applied. */
function policyFrom(gw: Pick<GatewayConfig, 'dns' | 'routes' | 'timers'>, pools: PoolSet): GatewayPolicy {
  return {
    serverName: `Outpost ${packageVersion()}`,
    dns: gw.dns.servers,
    defaultDomain: gw.dns.domain,
    splitDns: gw.dns.split,
    splitInclude: gw.routes.include,
    splitExclude: gw.routes.exclude,
    ipv4PrefixLength: pools.ipv4PrefixLength,
    ...(pools.ipv6PrefixLength !== undefined ? { ipv6PrefixLength: pools.ipv6PrefixLength } : {}),
    timers: gw.timers,
  };
}

type GroupPools = Map<string, PoolSet>;

/** The pools of groups that have their own. */
function groupPoolSets(config: OutpostConfig, workers: number): GroupPools {
  const pools: GroupPools = new Map();
  for (const [name, group] of Object.entries(config.gateway.groups)) {
    if (group.pool) pools.set(name, poolSet(group.pool, workers));
  }
  return pools;
}

/**
 * The groups' settings; a group without its own pool shares the gateway's. Pure over the pools it
 * is given, so a live reconfiguration rebuilds it with the same pools.
 */
function groupSelectors(
  gw: GatewayConfig,
  groupPools: GroupPools,
  main: PoolSet,
): Array<{ name: string; selector: GroupPolicy }> {
  return Object.entries(gw.groups).map(([name, group]) => {
    const pools = groupPools.get(name) ?? main;
    const settings = {
      dns: group.dns ?? gw.dns,
      routes: group.routes ?? gw.routes,
      timers: { ...gw.timers, ...definedOnly(group.timers ?? {}) },
    };
    return {
      name,
      selector: {
        name,
        groups: group.match.groups,
        users: group.match.users,
        policy: policyFrom(settings, pools),
        addresses: pools.addresses,
      },
    };
  });
}

/**
 * One process: opens the TUN with the main pool's gateway address and prefix (routing the whole
 * pool into it) and routes each group's own pool into it too.
 */
async function openTun(
  gw: GatewayConfig,
  main: PoolSet,
  groupPools: GroupPools,
  shutdown: ShutdownManager,
): Promise<PacketDevice> {
  const tun = LinuxTunDevice.open(gw.tun.name, { mtu: gw.tun.mtu });
  shutdown.register('TUN device', () => tun.close());
  await configureTunInterface(runCommand, {
    name: tun.name,
    mtu: gw.tun.mtu,
    ipv4: { address: main.gateway.ipv4, prefixLength: main.ipv4PrefixLength },
    ...(main.gateway.ipv6 && main.ipv6PrefixLength !== undefined
      ? { ipv6: { address: main.gateway.ipv6, prefixLength: main.ipv6PrefixLength } }
      : {}),
  });
  // One TUN carries every session: its default 500-packet queue towards the reader thread
  // overflowed under one fast download whenever the reader was preempted (drops, then TCP backs off).
  await runCommand('ip', ['link', 'set', 'dev', tun.name, 'txqueuelen', '2048']);
  for (const [name, pools] of groupPools) {
    for (const [family, cidr] of [
      ['-4', pools.ipv4],
      ['-6', pools.ipv6],
    ] as const) {
      if (!cidr) continue;
      await runCommand('ip', [family, 'route', 'replace', cidr, 'dev', tun.name]);
      shutdown.register(`route of group ${name}`, () =>
        runCommand('ip', [family, 'route', 'del', cidr, 'dev', tun.name]).then(
          () => undefined,
          () => undefined,
        ),
      );
    }
  }
  return tun;
}

/** What worker `worker` needs: its TUN, the gateway addresses, and its blocks of every pool. */
function workerInitOf(
  config: OutpostConfig,
  worker: number,
  main: PoolSet,
  groupPools: GroupPools,
): WorkerInit {
  const gw = config.gateway;
  const routes = { ipv4: [] as string[], ipv6: [] as string[] };
  for (const pools of [main, ...groupPools.values()]) {
    const mine = pools.routesOf!(worker);
    routes.ipv4.push(...mine.ipv4);
    routes.ipv6.push(...mine.ipv6);
  }
  return {
    type: 'init',
    worker,
    logLevel: config.log.level,
    tun: { name: workerTunName(gw.tun.name, worker), mtu: gw.tun.mtu },
    addresses: { ipv4: main.gateway.ipv4, ...(main.gateway.ipv6 ? { ipv6: main.gateway.ipv6 } : {}) },
    routes,
  };
}

/** Masquerade for the main pool and each group's own pool (their own nftables tables). */
async function applyAllNat(
  tunName: string,
  main: PoolSet,
  groups: Array<{ name: string }>,
  groupPools: GroupPools,
  shutdown: ShutdownManager,
): Promise<void> {
  await applyNat(runCommand, { tunName, ipv4Pool: main.ipv4, ipv6Pool: main.ipv6 });
  for (const group of groups) {
    const own = groupPools.get(group.name);
    if (!own) continue; // shares the main pool, already masqueraded
    await applyNat(runCommand, {
      tunName,
      ipv4Pool: own.ipv4,
      ipv6Pool: own.ipv6,
      table: natTableOf(group.name),
    });
    shutdown.register(`NAT rules of group ${group.name}`, () =>
      removeNat(runCommand, natTableOf(group.name)),
    );
  }
  shutdown.register('NAT rules', () => removeNat(runCommand));
}

/** Tunnel counters onto the gateway metrics (counts may come in batches from workers). */
function tunnelCounters(metrics: () => ReturnType<typeof gatewayMetrics>): TunnelCounters {
  return {
    dropped: (reason, count = 1, channel = 'tls') => metrics().drops.inc({ reason, channel }, count),
    tunnelOpened: (records, count = 1) => metrics().tunnels.inc({ records }, count),
    tlsFailure: (kind, count = 1) => metrics().tlsFailures.inc({ kind }, count),
  };
}

/** The keys of an override that are actually set (an explicit undefined must not erase a default). */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** nftables table of a group's pool: identifiers take letters, digits and underscores, not hyphens. */
function natTableOf(group: string): string {
  return `outpost_${group.replaceAll('-', '_')}`;
}

/** One line per new ban: an operator must see why a valid login later gets 403 (issue 10). */
function logBans(bans: BanPoints, log: Logger, site: SiteSessions | undefined): void {
  bans.onBan((ban) => {
    site?.banned(ban);
    log.warn(
      { remote: ban.address, points: ban.score, until: new Date(ban.until).toISOString() },
      'address banned after failed attempts; `outpost sessions unban` lifts it',
    );
  });
}

/** This node's pool blocks: the gateway's pool and each group's own, both families. */
function poolBlocks(main: PoolSet, groupPools: GroupPools): string[] {
  return [main, ...groupPools.values()].flatMap((set) => (set.ipv6 ? [set.ipv4, set.ipv6] : [set.ipv4]));
}
