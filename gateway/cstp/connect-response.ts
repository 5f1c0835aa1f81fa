import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { ConnectRequest } from './connect-request.js';
import type { NegotiatedMtu } from './mtu.js';
import { ipv4Netmask, parseCidr } from './route-format.js';

/** Most split-include (or split-exclude) rules sent in one CONNECT reply. */
export const MAX_SPLIT_RULES = 500;

export interface ConnectResponseParams {
  /** X-CSTP-Server-Name, e.g. "Outpost 0.1.0" (ocserv sends PACKAGE_STRING). */
  serverName: string;
  /** The client's X-CSTP-Hostname if accepted: ocserv echoes it back. */
  hostname?: string | undefined;
  /** What the client said it can do and what it is (from parseConnectRequest). */
  client: Pick<ConnectRequest, 'addressTypes' | 'fullIpv6' | 'agent' | 'isIos'>;
  mtu: NegotiatedMtu;
  ipv4?: { address: string; prefixLength: number } | undefined;
  ipv6?: { address: string; prefixLength: number } | undefined;
  dns?: readonly string[];
  defaultDomain?: string | null | undefined;
  splitDns?: readonly string[];
  /** CIDRs routed into the tunnel. Empty: everything (default route), and then all DNS too. */
  splitInclude?: readonly string[];
  /** CIDRs kept out of the tunnel. */
  splitExclude?: readonly string[];
  /** Force X-CSTP-Tunnel-All-DNS: true with split routes (it is always true without them). */
  tunnelAllDns?: boolean;
  /** Seconds. null/undefined/0 = "none" where CSTP has a "none". */
  timers: {
    dpd: number;
    keepalive: number;
    idle?: number | null;
    session?: number | null;
    /** Seconds left of the session (a reconnect gets less than the full session). */
    sessionRemaining?: number | null;
    /** How long the client may stay away and still resume (AnyConnect); ocserv sends "none". */
    disconnected?: number | null;
    /** TLS rekey interval; clients are told to open a new tunnel (Node cannot renegotiate TLS 1.3). */
    rekey?: number | null;
  };
  /** One line, shown by the client after connecting. */
  banner?: string | undefined;
  /** The DTLS data channel offered to this client (gateway/dtls/negotiation.ts); absent: TLS only. */
  dtls?: DtlsAnswer | undefined;
}

/**
 * The X-DTLS-* answer, as ocserv's worker-vpn.c connect_handler writes it: PSK-NEGOTIATE names
 * the session by X-DTLS-App-ID; the legacy protocol by X-DTLS-Session-ID, with the suite in the
 * header the client offered it in and the data MTU (X-DTLS-MTU: the suite, hence the overhead,
 * is known only there).
 */
export interface DtlsAnswer {
  /** UDP port of the process that will hold the session's keys. */
  port: number;
  /** Seconds (the CSTP ones; ocserv sends the same values). */
  dpd: number;
  keepalive: number;
  rekey?: number | null;
  channel:
    | { mode: 'psk'; appId: Uint8Array }
    | { mode: 'legacy'; sessionId: Uint8Array; cipherSuite: string; dtls12Header: boolean; mtu: number };
}

/**
 * The response head for `CONNECT /CSCOSSLC/tunnel`: status line, headers, blank line. Header names,
 * values and order follow ocserv 1.1.6 as captured in the transcript, and ocserv's
 * worker-vpn.c connect_handler for the headers the transcript does not exercise. Deliberate
 * differences from that capture, all TLS-only choices:
 * - X-DTLS-* only when the client offered DTLS and the gateway serves it (`dtls`), in ocserv's
 *   order; no X-DTLS-Content-Encoding (ocserv sends it only with compression, which we never do);
 * - X-CSTP-Rekey-Method: new-tunnel, never "ssl" (that would be TLS renegotiation; ocserv itself
 *   falls back to new-tunnel when the peer lacks safe renegotiation);
 * - X-CSTP-Lease-Duration / X-CSTP-Session-Timeout as ocserv's current source writes them;
 * - X-CSTP-Routing-Filtering-Ignore: false and X-CSTP-Quarantine: false, which ASAs send and
 *   AnyConnect clients read.
 * Which addresses, DNS servers and routes are sent follows ocserv's filtering (see `ipv6Extras`).
 * Throws OutpostError(config) for values that would break the header syntax or exceed limits.
 */
export function buildConnectResponse(params: ConnectResponseParams): string {
  const lines: string[] = [];
  const add = (name: string, value: string | number) => {
    const text = String(value);
    if (!/^[\x20-\x7e]*$/.test(text)) invalid(`${name} value has characters not allowed in a header`);
    lines.push(`${name}: ${text}`);
  };
  const { client, mtu, timers } = params;
  const ipv4Allowed = client.addressTypes.ipv4;
  const ipv6Address = client.addressTypes.ipv6 && mtu.ipv6Capable;
  // ocserv: "While anyconnect clients can handle the assignment of an IPv6 address, they cannot
  // handle routes or DNS in IPv6", so IPv6 routes/DNS need Full-IPv6-Capability and a known agent.
  const ipv6Extras = ipv6Address && client.fullIpv6 && client.agent !== 'unknown';

  add('X-CSTP-Version', 1);
  add('X-CSTP-Server-Name', params.serverName);
  if (params.hostname) add('X-CSTP-Hostname', params.hostname);
  if (timers.dpd > 0) add('X-CSTP-DPD', timers.dpd);
  if (params.defaultDomain) add('X-CSTP-Default-Domain', params.defaultDomain);

  if (params.ipv4 && ipv4Allowed) {
    if (!isIPv4(params.ipv4.address)) invalid('ipv4 address');
    add('X-CSTP-Address', params.ipv4.address);
    add('X-CSTP-Netmask', ipv4Netmask(prefixLength(params.ipv4.prefixLength, 32)));
  }
  if (params.ipv6 && ipv6Address) {
    if (!isIPv6(params.ipv6.address)) invalid('ipv6 address');
    const withPrefix = `${params.ipv6.address}/${prefixLength(params.ipv6.prefixLength, 128)}`;
    if (client.fullIpv6) {
      add('X-CSTP-Address-IP6', withPrefix);
    } else {
      // The legacy form ocserv uses for clients without Full-IPv6-Capability.
      add('X-CSTP-Address', params.ipv6.address);
      add('X-CSTP-Netmask', withPrefix);
    }
  }

  for (const server of params.dns ?? []) {
    const v6 = isIPv6(server);
    if (!v6 && !isIPv4(server)) invalid(`DNS server ${JSON.stringify(server)}`);
    if (v6 ? !ipv6Extras : !ipv4Allowed) continue;
    // ocserv: AnyConnect wants IPv6 servers as X-CSTP-DNS-IP6; openconnect reads X-CSTP-DNS for both.
    add(v6 && client.agent === 'anyconnect' ? 'X-CSTP-DNS-IP6' : 'X-CSTP-DNS', server);
  }
  for (const domain of params.splitDns ?? []) add('X-CSTP-Split-DNS', domain);

  const includes = params.splitInclude ?? [];
  if (needsAppleIpv6Route(client, params.ipv6 !== undefined && ipv6Address, includes))
    add('X-CSTP-Split-Include-IP6', '2000::/3');
  for (const line of routeLines('Include', includes, ipv4Allowed, ipv6Extras)) add(line[0], line[1]);
  // ocserv: a default route (no split includes) tunnels all DNS as well.
  add('X-CSTP-Tunnel-All-DNS', includes.length === 0 || params.tunnelAllDns === true ? 'true' : 'false');
  add('X-CSTP-Client-Bypass-Protocol', 'false');
  for (const line of routeLines('Exclude', params.splitExclude ?? [], ipv4Allowed, ipv6Extras))
    add(line[0], line[1]);

  add('X-CSTP-Keepalive', timers.keepalive);
  add('X-CSTP-Idle-Timeout', timers.idle ? timers.idle : 'none');
  add('X-CSTP-Smartcard-Removal-Disconnect', 'true');
  if (timers.rekey) {
    add('X-CSTP-Rekey-Time', timers.rekey);
    add('X-CSTP-Rekey-Method', 'new-tunnel');
  } else {
    add('X-CSTP-Rekey-Method', 'none');
  }
  if (timers.session) {
    add('X-CSTP-Lease-Duration', timers.session);
    add('X-CSTP-Session-Timeout', timers.session);
    add('X-CSTP-Session-Timeout-Remaining', Math.max(0, timers.sessionRemaining ?? timers.session));
  } else {
    add('X-CSTP-Lease-Duration', 'none');
    add('X-CSTP-Session-Timeout', 'none');
  }
  add('X-CSTP-Disconnected-Timeout', timers.disconnected ? timers.disconnected : 'none');
  add('X-CSTP-Keep', 'true');
  add('X-CSTP-TCP-Keepalive', 'true');
  add('X-CSTP-License', 'accept');
  add('X-CSTP-Routing-Filtering-Ignore', 'false');
  add('X-CSTP-Quarantine', 'false');
  if (params.dtls) for (const [name, value] of dtlsLines(params.dtls)) add(name, value);
  add('X-CSTP-Base-MTU', mtu.baseMtu);
  add('X-CSTP-MTU', mtu.mtu);
  if (params.banner) add('X-CSTP-Banner', params.banner);

  return `HTTP/1.1 200 CONNECTED\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

/** ocserv worker-vpn.c connect_handler: DPD, port, rekey, keepalive, then the session and suite. */
function dtlsLines(d: DtlsAnswer): [string, string | number][] {
  if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535) invalid(`DTLS port ${d.port}`);
  const lines: [string, string | number][] = [];
  if (d.dpd > 0) lines.push(['X-DTLS-DPD', d.dpd]);
  lines.push(['X-DTLS-Port', d.port]);
  if (d.rekey) {
    lines.push(['X-DTLS-Rekey-Time', d.rekey]);
    lines.push(['X-DTLS-Rekey-Method', 'new-tunnel']);
  }
  lines.push(['X-DTLS-Keepalive', d.keepalive]);
  const c = d.channel;
  if (c.mode === 'psk') {
    lines.push(['X-DTLS-App-ID', Buffer.from(c.appId).toString('hex')]);
    lines.push(['X-DTLS-CipherSuite', 'PSK-NEGOTIATE']);
  } else {
    // openconnect insists on exactly 32 bytes (cstp.c: "X-DTLS-Session-ID not 64 characters").
    if (c.sessionId.length !== 32) invalid('DTLS session ID length');
    lines.push(['X-DTLS-Session-ID', Buffer.from(c.sessionId).toString('hex')]);
    lines.push([c.dtls12Header ? 'X-DTLS12-CipherSuite' : 'X-DTLS-CipherSuite', c.cipherSuite]);
    lines.push(['X-DTLS-MTU', c.mtu]);
  }
  return lines;
}

/**
 * ocserv worker-vpn.c:2419-2425, "Anyconnect on IOS requires this route in order to use IPv6":
 * an iOS client (ocserv's is_ios, see ConnectRequest.isIos) that sent
 * X-CSTP-Full-IPv6-Capability gets `X-CSTP-Split-Include-IP6: 2000::/3` (all global unicast
 * IPv6) right after the split DNS lines, unless the routes include the IPv4 default route
 * (ocserv's check_if_default_route: "default" or "0.0.0.0/0"; no routes at all, a full tunnel,
 * does get it, and so does a split tunnel). ocserv sends it whatever the agent. One deliberate
 * difference: we send it only when the client is given an IPv6 address (ocserv does not look),
 * since a route into a tunnel without IPv6 only blackholes the device's own IPv6.
 */
function needsAppleIpv6Route(
  client: ConnectResponseParams['client'],
  ipv6Address: boolean,
  includes: readonly string[],
): boolean {
  if (!client.isIos || !client.fullIpv6 || !ipv6Address) return false;
  return !includes.some((cidr) => {
    const route = parseCidr(cidr);
    return route?.family === 4 && route.prefix === 0;
  });
}

/** ocserv worker-vpn.c send_routes: IPv4 as network/netmask, IPv6 as Split-*-IP6 address/prefix. */
function routeLines(
  kind: 'Include' | 'Exclude',
  cidrs: readonly string[],
  ipv4Allowed: boolean,
  ipv6Allowed: boolean,
): [string, string][] {
  const lines: [string, string][] = [];
  for (const cidr of cidrs) {
    const route = parseCidr(cidr);
    if (!route) invalid(`split ${kind.toLowerCase()} route ${JSON.stringify(cidr)}`);
    if (route.family === 4 && ipv4Allowed)
      lines.push([`X-CSTP-Split-${kind}`, `${route.network}/${route.netmask}`]);
    if (route.family === 6 && ipv6Allowed) lines.push([`X-CSTP-Split-${kind}-IP6`, route.cidr]);
  }
  if (lines.length > MAX_SPLIT_RULES) {
    throw new OutpostError(ErrorCodes.limit, 'too many split routes', {
      detail: `${lines.length} split-${kind.toLowerCase()} rules; at most ${MAX_SPLIT_RULES}`,
    });
  }
  return lines;
}

function prefixLength(value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) invalid(`prefix length ${value}`);
  return value;
}

function invalid(what: string): never {
  throw new OutpostError(ErrorCodes.config, 'invalid gateway configuration', { detail: `invalid ${what}` });
}
