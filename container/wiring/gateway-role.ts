import { type Stats, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { runCommand } from '../../gateway/net/command-runner.js';
import { applyNat, removeNat } from '../../gateway/net/nat-rules.js';
import { assertPreflight } from '../../gateway/net/preflight.js';
import { configureTunInterface } from '../../gateway/net/tun-interface.js';
import { AddressPool } from '../../gateway/pool/address-pool.js';
import { AuthDialogue } from '../../gateway/server/auth-dialogue.js';
import type { GatewayPolicy } from '../../gateway/server/gateway-policy.js';
import { GatewayServer } from '../../gateway/server/gateway-server.js';
import { type GroupPolicy, isGroupMember, policySelector } from '../../gateway/server/policy-selector.js';
import type { AddressAllocator, PacketDevice } from '../../gateway/server/ports.js';
import type { Identity } from '../../gateway/session/identity.js';
import { SessionTable } from '../../gateway/session/session-table.js';
import { LinuxTunDevice } from '../../gateway/tun/linux-tun-device.js';
import type { TunDevice } from '../../gateway/tun/tun-device.js';
import type { Readiness } from '../admin/readiness.js';
import { packageVersion } from '../cli/package-version.js';
import { parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ShutdownManager } from '../shutdown.js';
import type { ClusterRegistry } from './cluster-metrics.js';
import { openConnectorCore } from './connector-core.js';
import { gatewayAuth } from './gateway-auth.js';
import { gatewayTls, readConfiguredTls, tlsFilesOf } from './gateway-tls.js';

export interface GatewayHandle {
  sessions: SessionTable;
  /**
   * Applies a new config's live keys (see reconfigure/config-diff.ts): auth methods and their
   * settings, DNS, routes, timers, groups' settings, limits and the listen address. Tunnels already
   * open keep going. Throws (and keeps the running settings) when the new settings do not load.
   */
  reconfigure(next: OutpostConfig): Promise<void>;
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

  const core = await openConnectorCore(config, log);
  shutdown.register('gateway CA access', () => core.close());
  const tls = await gatewayTls(config, core, log);
  const auth = await gatewayAuth(config, core);
  let current = { config, auth };
  shutdown.register('gateway authenticators', () => current.auth.close());

  const pool4 = new AddressPool(gw.pool.ipv4);
  const pool6 = gw.pool.ipv6 ? new AddressPool(gw.pool.ipv6) : undefined;
  const tun = LinuxTunDevice.open(gw.tun.name, { mtu: gw.tun.mtu });
  shutdown.register('TUN device', () => tun.close());
  await configureTunInterface(runCommand, {
    name: tun.name,
    mtu: gw.tun.mtu,
    ipv4: { address: pool4.gatewayAddress, prefixLength: pool4.prefixLength },
    ...(pool6 ? { ipv6: { address: pool6.gatewayAddress, prefixLength: pool6.prefixLength } } : {}),
  });
  // One TUN carries every session: its default 500-packet queue towards the reader thread
  // overflowed under one fast download whenever the reader was preempted (drops, then TCP backs off).
  await runCommand('ip', ['link', 'set', 'dev', tun.name, 'txqueuelen', '2048']);
  const mainAddresses = allocator(pool4, pool6);
  const groupPools = await createGroupPools(config, tun.name, shutdown);
  const main = { pool4, pool6, addresses: mainAddresses };
  const groups = groupSelectors(gw, groupPools, main);
  const allPools = [pool4, ...(pool6 ? [pool6] : []), ...groups.flatMap((g) => g.pools)];
  if (gw.nat) {
    await applyNat(runCommand, { tunName: tun.name, ipv4Pool: pool4.cidr, ipv6Pool: pool6?.cidr ?? null });
    for (const group of groups) {
      const [g4, g6] = group.pools;
      if (!g4) continue; // shares the main pool, already masqueraded
      await applyNat(runCommand, {
        tunName: tun.name,
        ipv4Pool: g4.cidr,
        ipv6Pool: g6?.cidr ?? null,
        table: natTableOf(group.name),
      });
      shutdown.register(`NAT rules of group ${group.name}`, () =>
        removeNat(runCommand, natTableOf(group.name)),
      );
    }
    shutdown.register('NAT rules', () => removeNat(runCommand));
  }

  const metrics = gatewayMetrics(registry, () => sessions);
  const sessions = new SessionTable(sessionLimitsOf(gw));
  const dialogue = new AuthDialogue({
    methods: gw.auth.methods,
    authenticators: auth.authenticators,
    sessions,
    bans: auth.bans,
    logger: log,
    onFailure: (reason) => metrics.authFailures.inc({ reason }),
    ...selectableGroupsOf(groups),
  });
  const server = new GatewayServer({
    tls: {
      cert: tls.cert,
      key: tls.key,
      ...(auth.clientCaPem ? { clientCa: [Buffer.from(auth.clientCaPem)] } : {}),
      maxVersion: gw.tlsPolicy.maxVersion,
      recordLayer: gw.tlsPolicy.recordLayer,
    },
    dialogue,
    sessions,
    device: packetDevice(tun),
    bans: auth.bans,
    policyFor: policySelector(
      groups.map((g) => g.selector),
      { policy: policyFrom(gw, pool4, pool6), addresses: mainAddresses },
    ),
    tunMtu: gw.tun.mtu,
    counters: {
      dropped: (reason) => metrics.drops.inc({ reason }),
      tunnelOpened: (records) => metrics.tunnels.inc({ records }),
      tlsFailure: (kind) => metrics.tlsFailures.inc({ kind }),
    },
    sessionEnded: (session) => metrics.sessionEnded(session),
    logger: log,
  });
  const where = parseListenAddress(gw.listen)!;
  await server.listen(where.host, where.port);
  shutdown.register('gateway listener', () => server.close());
  const timer = setInterval(() => {
    sessions.expire();
    for (const pool of allPools) pool.expire();
    metrics.sessions.set(sessions.size);
  }, 1000);
  timer.unref();
  shutdown.register('gateway timers', () => clearInterval(timer));
  readiness.register('gateway', async () => ({ ok: server.server.listening }));
  watchTlsFiles(config, server, log, shutdown);
  log.info(
    { listen: gw.listen, tun: tun.name, pool: pool4.cidr, methods: gw.auth.methods, tls: tls.source },
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
    server.setPolicy(
      policySelector(
        nextGroups.map((g) => g.selector),
        { policy: policyFrom(ngw, pool4, pool6), addresses: mainAddresses },
      ),
    );
    server.setClientCa(nextAuth.clientCaPem ? [Buffer.from(nextAuth.clientCaPem)] : undefined);
    server.setTlsPolicy(ngw.tlsPolicy);
    sessions.setLimits(sessionLimitsOf(ngw));
    const replaced = current.auth;
    current = { config: next, auth: nextAuth };
    await replaced.close();
    log.info({ listen: ngw.listen, methods: ngw.auth.methods }, 'gateway reconfigured');
  };
  return { sessions, reconfigure };
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

function allocator(pool4: AddressPool, pool6: AddressPool | undefined): AddressAllocator {
  return {
    allocate(sessionId) {
      const ipv4 = pool4.allocate(sessionId).address;
      const ipv6 = pool6?.allocate(sessionId).address;
      return ipv6 ? { ipv4, ipv6 } : { ipv4 };
    },
    release(sessionId, keepMs) {
      pool4.release(sessionId, { keepForMs: keepMs });
      pool6?.release(sessionId, { keepForMs: keepMs });
    },
  };
}

/** The TUN as the gateway server uses it: batches in, packets out (by view or by address). */
function packetDevice(tun: TunDevice): PacketDevice {
  return {
    write: (packet) => tun.write(packet),
    ...(tun.writeFrom
      ? { writeFrom: (source, offset, length, address) => tun.writeFrom!(source, offset, length, address) }
      : {}),
    onPackets: (handler) => tun.onPackets(handler),
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
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(total(key));
      },
    });
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
    drops: new Counter({
      name: 'outpost_gateway_dropped_packets_total',
      help: 'Packets dropped by reason (spoofed, malformed, backpressure, tun-full)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

/** Reloads the configured certificate (PEM pair or PKCS#12) when one of its files changes (checked every 5 s). */
function watchTlsFiles(
  config: OutpostConfig,
  server: GatewayServer,
  log: Logger,
  shutdown: ShutdownManager,
): void {
  const configured = config.gateway.tls;
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
function policyFrom(
  gw: Pick<GatewayConfig, 'dns' | 'routes' | 'timers'>,
  pool4: AddressPool,
  pool6: AddressPool | undefined,
): GatewayPolicy {
  return {
    serverName: `Outpost ${packageVersion()}`,
    dns: gw.dns.servers,
    defaultDomain: gw.dns.domain,
    splitDns: gw.dns.split,
    splitInclude: gw.routes.include,
    splitExclude: gw.routes.exclude,
    ipv4PrefixLength: pool4.prefixLength,
    ...(pool6 ? { ipv6PrefixLength: pool6.prefixLength } : {}),
    timers: gw.timers,
  };
}

type GroupPools = Map<string, { pool4: AddressPool; pool6: AddressPool | undefined }>;

/** The pools of groups that have their own, each routed into the TUN (the main pool is on its address). */
async function createGroupPools(
  config: OutpostConfig,
  tunName: string,
  shutdown: ShutdownManager,
): Promise<GroupPools> {
  const pools: GroupPools = new Map();
  for (const [name, group] of Object.entries(config.gateway.groups)) {
    if (!group.pool) continue;
    const pool4 = new AddressPool(group.pool.ipv4);
    const pool6 = group.pool.ipv6 ? new AddressPool(group.pool.ipv6) : undefined;
    for (const pool of [pool4, pool6]) {
      if (!pool) continue;
      const family = pool.family === 6 ? '-6' : '-4';
      await runCommand('ip', [family, 'route', 'replace', pool.cidr, 'dev', tunName]);
      shutdown.register(`route of group ${name}`, () =>
        runCommand('ip', [family, 'route', 'del', pool.cidr, 'dev', tunName]).then(
          () => undefined,
          () => undefined,
        ),
      );
    }
    pools.set(name, { pool4, pool6 });
  }
  return pools;
}

/**
 * The configured groups with their settings; a group without its own pool shares the gateway's.
 * Pure over the pools it is given, so a live reconfiguration rebuilds it with the same pools.
 */
function groupSelectors(
  gw: GatewayConfig,
  groupPools: GroupPools,
  main: { pool4: AddressPool; pool6: AddressPool | undefined; addresses: AddressAllocator },
): Array<{ name: string; pools: AddressPool[]; selector: GroupPolicy }> {
  return Object.entries(gw.groups).map(([name, group]) => {
    const own = groupPools.get(name);
    const settings = {
      dns: group.dns ?? gw.dns,
      routes: group.routes ?? gw.routes,
      timers: { ...gw.timers, ...definedOnly(group.timers ?? {}) },
    };
    return {
      name,
      pools: own ? [own.pool4, ...(own.pool6 ? [own.pool6] : [])] : [],
      selector: {
        name,
        groups: group.match.groups,
        users: group.match.users,
        policy: own
          ? policyFrom(settings, own.pool4, own.pool6)
          : policyFrom(settings, main.pool4, main.pool6),
        addresses: own ? allocator(own.pool4, own.pool6) : main.addresses,
      },
    };
  });
}

/** The keys of an override that are actually set (an explicit undefined must not erase a default). */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** nftables table of a group's pool: identifiers take letters, digits and underscores, not hyphens. */
function natTableOf(group: string): string {
  return `outpost_${group.replaceAll('-', '_')}`;
}
