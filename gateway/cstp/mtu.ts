/**
 * Tunnel MTU for a TLS-only CSTP session, computed the way ocserv does it, with ocserv's bounds on
 * what the client may say.
 *
 * ocserv src/worker-vpn.c connect_handler() + calc_mtu_values() (ocserv 1.5.0 dev, commit
 * c5c92152 "reject client MTU below MIN_MTU to prevent unsigned underflow", issue #717):
 *   link  = configured link MTU (the tun's "mtu", default 1500)
 *   X-CSTP-Base-MTU / X-CSTP-MTU above MAX_MSG_SIZE (16384) count as not sent (worker-http.c:644-650)
 *   if X-CSTP-Base-MTU >= MIN_MTU:       link = MIN(link, base)           ("peer's link MTU")
 *   else if X-CSTP-Base-MTU > 0:         ignored ("below minimum"); X-CSTP-MTU is not consulted
 *   else if X-CSTP-MTU > 0:              l = mtu + MAX_DTLS_PROTO_OVERHEAD + MAX_DTLS_CRYPTO_OVERHEAD;
 *                                        link = MIN(link, l) if l >= MIN_MTU, else ignored
 *   a smaller path MTU (TCP_INFO) lowers the link, never below MIN_MTU (link_mtu_set)
 *   X-CSTP-Base-MTU: link
 *   X-CSTP-MTU:      DATA_MTU = link - dtls_proto_overhead - dtls_crypto_overhead
 * with MIN_MTU = 1280 when the session gets an IPv6 address, else 800 (worker-vpn.c:87), and
 * dtls_proto_overhead = IP header + UDP header (20 + 8 over IPv4, 40 + 8 over IPv6) even when
 * DTLS is off, dtls_crypto_overhead 0 when DTLS is off. Hence TLS-only: mtu = link - 28.
 *
 * The floor is what keeps `link - overhead` (and a DTLS data MTU computed from this link) positive
 * and large enough for IPv6 whatever the client sends; the ceiling keeps client numbers within
 * the 16 KiB frame buffers of both peers. Client values outside them are ignored, not fatal, as in
 * ocserv: the session gets the server's own MTU and `ignored` says why (for the log).
 *
 * The client's own X-CSTP-MTU is ignored when it sends a base MTU: openconnect derives it from
 * base MTU minus *its* DTLS overhead (cstp.c calculate_mtu: 1500 - 82 - 8 - 20 = 1390), which is
 * why the transcript shows "X-CSTP-MTU: 1390" asked and 1472 answered (1500 - 28).
 *
 * Outpost configures the TUN's MTU (gateway.tun.mtu, 1280..9000, default 1472), i.e. the *data*
 * MTU. One TUN serves all clients, so no client may get a larger data MTU than the TUN; the link
 * ceiling is therefore configuredMtu + transport overhead, and with the defaults the result equals
 * ocserv's.
 */
export interface MtuInputs {
  /** X-CSTP-Base-MTU from the client: its path MTU (link MTU). Any number; out-of-range is ignored. */
  baseMtu?: number | undefined;
  /** X-CSTP-MTU from the client; used only when no base MTU was sent (old clients). */
  clientMtu?: number | undefined;
  /** The TUN device's MTU (gateway.tun.mtu, validated by the config schema): the largest data MTU. */
  configuredMtu: number;
  /** Address family of the client's TCP connection (overhead 28 for IPv4, 48 for IPv6). */
  transport?: 'ipv4' | 'ipv6';
  /** Path MTU towards the client if the server knows it (ocserv reads TCP_INFO tcpi_pmtu). */
  pathMtu?: number | undefined;
  /** The session is given an IPv6 address: client values below 1280 are ignored (ocserv MIN_MTU). */
  ipv6?: boolean;
  /**
   * Bytes DTLS adds to each packet when the session is offered a DTLS channel (record header,
   * explicit nonce, tag and the one-byte CSTP-over-DTLS header: ocserv's dtls_crypto_overhead):
   * the data MTU then fits a DTLS record into the link MTU, as ocserv's DATA_MTU does. 0: TLS only.
   */
  datagramOverhead?: number;
}

/** A client-supplied value the negotiation left out, and why. */
export interface IgnoredMtu {
  source: 'X-CSTP-Base-MTU' | 'X-CSTP-MTU' | 'path MTU';
  value: number;
  reason: string;
}

export interface NegotiatedMtu {
  /** Link MTU, sent as X-CSTP-Base-MTU. */
  baseMtu: number;
  /** Tunnel (data) MTU, sent as X-CSTP-MTU and the ceiling for packets we frame to this client. */
  mtu: number;
  /** IPv6 needs 1280 (RFC 8200); ocserv withholds IPv6 below that, openconnect complains about it. */
  ipv6Capable: boolean;
  /** Client values outside ocserv's bounds, left out (absent when none was). */
  ignored?: IgnoredMtu[];
}

const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;
/**
 * ocserv's MAX_DTLS_CRYPTO_OVERHEAD: 1 (CSTP_DTLS_OVERHEAD) + gnutls_est_record_overhead_size(
 * DTLS1.0, AES-128-CBC, SHA1) = 13 record header + 16 IV + 20 MAC + 16 max padding. Only used for
 * old clients that send X-CSTP-MTU without X-CSTP-Base-MTU.
 */
const MAX_DTLS_CRYPTO_OVERHEAD = 66;
/** ocserv MIN_MTU without IPv6: the smallest link MTU a client may ask for (worker-vpn.c:87). */
export const MIN_LINK_MTU = 800;
/** RFC 8200 §5, and ocserv's MIN_MTU when the session has IPv6. */
export const IPV6_MIN_MTU = 1280;
/** ocserv MAX_MSG_SIZE: larger client MTU values count as not sent (worker-http.c:644). */
export const MAX_CLIENT_MTU = 16384;

export function negotiateMtu(inputs: MtuInputs): NegotiatedMtu {
  const overhead = (inputs.transport === 'ipv6' ? IPV6_HEADER : IPV4_HEADER) + UDP_HEADER;
  const floor = inputs.ipv6 ? IPV6_MIN_MTU : MIN_LINK_MTU;
  const ignored: IgnoredMtu[] = [];
  /** The client's number if it is a usable count; undefined = "not sent", as ocserv's 0. */
  const sent = (source: IgnoredMtu['source'], value: number | undefined): number | undefined => {
    if (value === undefined || value === 0) return undefined;
    if (Number.isInteger(value) && value > 0 && value <= MAX_CLIENT_MTU) return value;
    ignored.push({ source, value, reason: `not in 1..${MAX_CLIENT_MTU}` });
    return undefined;
  };
  const tooSmall = (source: IgnoredMtu['source'], value: number, detail = '') =>
    ignored.push({ source, value, reason: `${detail}below the minimum ${floor}` });

  let link = inputs.configuredMtu + overhead;
  const base = sent('X-CSTP-Base-MTU', inputs.baseMtu);
  const client = base === undefined ? sent('X-CSTP-MTU', inputs.clientMtu) : undefined;
  if (base !== undefined) {
    if (base >= floor) link = Math.min(link, base);
    else tooSmall('X-CSTP-Base-MTU', base);
  } else if (client !== undefined) {
    const clientLink = client + overhead + MAX_DTLS_CRYPTO_OVERHEAD;
    if (clientLink >= floor) link = Math.min(link, clientLink);
    else tooSmall('X-CSTP-MTU', client, `link MTU ${clientLink} `);
  }
  const path = inputs.pathMtu;
  if (path !== undefined && Number.isInteger(path) && path > 0 && path < link) {
    if (path >= floor) link = path;
    else tooSmall('path MTU', path);
  }
  const mtu = link - overhead - (inputs.datagramOverhead ?? 0);
  const result: NegotiatedMtu = { baseMtu: link, mtu, ipv6Capable: mtu >= IPV6_MIN_MTU };
  if (ignored.length > 0) result.ignored = ignored;
  return result;
}
