import type { ConnectRequest, ConnectResponseParams, NegotiatedMtu } from '../cstp/index.js';
import type { Session } from '../session/session.js';

/** What every tunnel is told at CONNECT (DNS, routes, timers), from the gateway configuration. */
export interface GatewayPolicy {
  serverName: string;
  dns: readonly string[];
  defaultDomain: string | null;
  splitDns: readonly string[];
  splitInclude: readonly string[];
  splitExclude: readonly string[];
  ipv4PrefixLength: number;
  ipv6PrefixLength?: number;
  /** Seconds. mobileDpd / mobileIdle (null = idle) replace dpd / idle for phones (`tunnelTimers`). */
  timers: {
    dpd: number;
    mobileDpd: number;
    keepalive: number;
    idle: number;
    mobileIdle: number | null;
    session: number;
    cookie: number;
    rekey: number;
  };
}

/**
 * The DPD and idle timeout of one tunnel: ocserv's mobile-dpd and mobile-idle-timeout for a client
 * whose platform is apple-ios* or android* (worker-vpn.c:2202-2206: is_mobile replaces dpd and
 * idle_timeout before X-CSTP-DPD is sent; the server's own checks use them too), else dpd and
 * idle. The CONNECT reply, the liveness checks and the DTLS headers all take them from here.
 */
export function tunnelTimers(
  timers: GatewayPolicy['timers'],
  request: Pick<ConnectRequest, 'isMobile'>,
): { dpd: number; idle: number } {
  if (!request.isMobile) return { dpd: timers.dpd, idle: timers.idle };
  return { dpd: timers.mobileDpd, idle: timers.mobileIdle ?? timers.idle };
}

/** The CONNECT reply parameters for one session (pure). */
export function connectParams(
  policy: GatewayPolicy,
  session: Session,
  request: ConnectRequest,
  mtu: NegotiatedMtu,
  now: number,
): ConnectResponseParams {
  const remaining = Math.max(0, Math.floor(policy.timers.session - (now - session.createdAt) / 1000));
  return {
    serverName: policy.serverName,
    hostname: request.hostname,
    client: {
      addressTypes: request.addressTypes,
      fullIpv6: request.fullIpv6,
      agent: request.agent,
      isIos: request.isIos,
    },
    mtu,
    ipv4: session.ipv4 ? { address: session.ipv4, prefixLength: policy.ipv4PrefixLength } : undefined,
    ipv6:
      session.ipv6 && policy.ipv6PrefixLength !== undefined
        ? { address: session.ipv6, prefixLength: policy.ipv6PrefixLength }
        : undefined,
    dns: policy.dns,
    defaultDomain: policy.defaultDomain,
    splitDns: policy.splitDns,
    splitInclude: policy.splitInclude,
    splitExclude: policy.splitExclude,
    timers: {
      ...tunnelTimers(policy.timers, request),
      keepalive: policy.timers.keepalive,
      session: policy.timers.session,
      sessionRemaining: remaining,
      // new-tunnel rekeying: the client reconnects with its cookie and gets fresh TLS keys.
      rekey: policy.timers.rekey > 0 ? policy.timers.rekey : null,
    },
  };
}
