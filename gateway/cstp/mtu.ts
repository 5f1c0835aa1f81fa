/**
 * Tunnel MTU for a TLS-only CSTP session, computed the way ocserv does it.
 *
 * ocserv src/worker-vpn.c connect_handler() + calc_mtu_values() (read at ocserv commit 25e89901):
 *   link  = configured link MTU (the tun's "mtu", default 1500)
 *   if the client sent X-CSTP-Base-MTU:  link = MIN(link, base)          ("peer's link MTU")
 *   else if it sent only X-CSTP-MTU:     link = MIN(link, mtu + MAX_DTLS_PROTO_OVERHEAD
 *                                                          + MAX_DTLS_CRYPTO_OVERHEAD)
 *   if TCP_INFO's pmtu is smaller:       link = pmtu
 *   X-CSTP-Base-MTU: link
 *   X-CSTP-MTU:      DATA_MTU = link - dtls_proto_overhead - dtls_crypto_overhead
 * where dtls_proto_overhead = IP header + UDP header (20 + 8 over IPv4, 40 + 8 over IPv6) even when
 * DTLS is off, and dtls_crypto_overhead is 0 when DTLS is off. Hence TLS-only: mtu = link - 28.
 *
 * The client's own X-CSTP-MTU is ignored when it sends a base MTU: openconnect derives it from
 * base MTU minus *its* DTLS overhead (cstp.c calculate_mtu: 1500 - 82 - 8 - 20 = 1390), which is
 * why the transcript shows "X-CSTP-MTU: 1390" asked and 1472 answered (1500 - 28).
 *
 * Outpost configures the TUN's MTU (gateway.tun.mtu, default 1472), i.e. the *data* MTU. One TUN
 * serves all clients, so no client may get a larger data MTU than the TUN; the link ceiling is
 * therefore configuredMtu + transport overhead, and with the defaults the result equals ocserv's.
 */
export interface MtuInputs {
  /** X-CSTP-Base-MTU from the client: its path MTU (link MTU). */
  baseMtu?: number | undefined;
  /** X-CSTP-MTU from the client; used only when no base MTU was sent (old clients). */
  clientMtu?: number | undefined;
  /** The TUN device's MTU (gateway.tun.mtu): the largest tunnel (data) MTU we hand out. */
  configuredMtu: number;
  /** Address family of the client's TCP connection (overhead 28 for IPv4, 48 for IPv6). */
  transport?: 'ipv4' | 'ipv6';
  /** Path MTU towards the client if the server knows it (ocserv reads TCP_INFO tcpi_pmtu). */
  pathMtu?: number | undefined;
}

export interface NegotiatedMtu {
  /** Link MTU, sent as X-CSTP-Base-MTU. */
  baseMtu: number;
  /** Tunnel (data) MTU, sent as X-CSTP-MTU and the ceiling for packets we frame to this client. */
  mtu: number;
  /** IPv6 needs 1280 (RFC 8200); ocserv withholds IPv6 below that, openconnect complains about it. */
  ipv6Capable: boolean;
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
/** No link below the 576-byte datagram every IPv4 host must accept (RFC 791; openconnect's MTU probe floor). */
export const MIN_LINK_MTU = 576;
export const IPV6_MIN_MTU = 1280;

export function negotiateMtu(inputs: MtuInputs): NegotiatedMtu {
  const overhead = (inputs.transport === 'ipv6' ? IPV6_HEADER : IPV4_HEADER) + UDP_HEADER;
  let link = inputs.configuredMtu + overhead;
  if (inputs.baseMtu && inputs.baseMtu > 0) {
    link = Math.min(link, inputs.baseMtu);
  } else if (inputs.clientMtu && inputs.clientMtu > 0) {
    link = Math.min(link, inputs.clientMtu + overhead + MAX_DTLS_CRYPTO_OVERHEAD);
  }
  if (inputs.pathMtu && inputs.pathMtu > 0 && inputs.pathMtu < link) link = inputs.pathMtu;
  link = Math.max(link, MIN_LINK_MTU);
  const mtu = link - overhead;
  return { baseMtu: link, mtu, ipv6Capable: mtu >= IPV6_MIN_MTU };
}
