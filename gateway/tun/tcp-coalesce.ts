/**
 * Userspace GRO for packets going into the TUN: consecutive TCP segments of one IPv4 flow are
 * merged into one large packet that the kernel takes in a single write, with a virtio-net header
 * asking it to treat the packet as GSO (segmented later, or never when the next hop accepts large
 * packets, as veth and the local stack do). The per-packet forwarding work (route lookup,
 * netfilter, queueing, the receiver's TCP) then runs once per merged packet instead of once per
 * segment: the same idea as the Linux GRO engine and wireguard-go's TUN offloads.
 *
 * The merge rules follow the kernel's tcp_gro_receive/inet_gro_receive: same addresses, ports,
 * TOS, TTL, DF, ACK number, window and TCP options; sequence numbers contiguous; only ACK (and PSH
 * on the last segment) set; every segment but the last exactly `mss` bytes of payload. The merged
 * packet's TCP checksum is left to the kernel (VIRTIO_NET_HDR_F_NEEDS_CSUM, pseudo-header sum in
 * the checksum field): the segments' payloads were authenticated by TLS on the way in.
 *
 * Pure functions over bytes; `at` is where the IPv4 header starts.
 */

/** struct virtio_net_hdr (include/uapi/linux/virtio_net.h), little-endian on the host. */
export const VNET_HEADER_LENGTH = 10;
const VNET_F_NEEDS_CSUM = 1;
const VNET_GSO_TCPV4 = 1;

const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
/** The IP total length field bounds a merged packet. */
export const MAX_MERGED_LENGTH = 65535;

/** What a segment that may start or extend a merge looks like. */
export interface TcpSegment {
  /** TCP header length (20-60). */
  readonly tcpHeaderLength: number;
  readonly payloadLength: number;
  readonly seq: number;
  readonly push: boolean;
}

/**
 * The segment's shape when it can take part in a merge: IPv4 without options or fragmentation,
 * TCP with ACK (and maybe PSH) only, a payload, and a total length that matches `length`.
 */
export function mergeableSegment(packet: Uint8Array, at: number, length: number): TcpSegment | undefined {
  if (length < 40 || packet[at] !== 0x45 || packet[at + 9] !== 6) return undefined;
  if (((packet[at + 2]! << 8) | packet[at + 3]!) !== length) return undefined;
  // Flags and fragment offset: only DF may be set.
  if ((packet[at + 6]! & 0xbf) !== 0 || packet[at + 7] !== 0) return undefined;
  const tcp = at + 20;
  const tcpHeaderLength = (packet[tcp + 12]! >> 4) * 4;
  if (tcpHeaderLength < 20 || 20 + tcpHeaderLength >= length) return undefined;
  const flags = packet[tcp + 13]!;
  if ((flags & ~TCP_PSH) !== TCP_ACK || (packet[tcp + 12]! & 0x0f) !== 0) return undefined;
  return {
    tcpHeaderLength,
    payloadLength: length - 20 - tcpHeaderLength,
    seq: readUint32(packet, tcp + 4),
    push: (flags & TCP_PSH) !== 0,
  };
}

/**
 * Whether `next` continues the merge whose first segment (headers) is at `head[headAt..]`,
 * given the sequence number expected next and the merge's segment size.
 */
export function continuesMerge(
  head: Uint8Array,
  headAt: number,
  first: TcpSegment,
  expectedSeq: number,
  next: Uint8Array,
  nextAt: number,
  segment: TcpSegment,
): boolean {
  if (segment.seq !== expectedSeq || segment.tcpHeaderLength !== first.tcpHeaderLength) return false;
  if (segment.payloadLength > first.payloadLength) return false;
  // TOS, DF, TTL, protocol, addresses.
  if (head[headAt + 1] !== next[nextAt + 1] || head[headAt + 6] !== next[nextAt + 6]) return false;
  if (head[headAt + 8] !== next[nextAt + 8]) return false;
  for (let i = 12; i < 20; i++) if (head[headAt + i] !== next[nextAt + i]) return false;
  const a = headAt + 20;
  const b = nextAt + 20;
  // Ports (0-3), ACK number (8-11), window (14-15), then every option byte.
  for (let i = 0; i < 4; i++) if (head[a + i] !== next[b + i]) return false;
  for (let i = 8; i < 12; i++) if (head[a + i] !== next[b + i]) return false;
  if (head[a + 14] !== next[b + 14] || head[a + 15] !== next[b + 15]) return false;
  for (let i = 20; i < first.tcpHeaderLength; i++) if (head[a + i] !== next[b + i]) return false;
  return true;
}

/**
 * Turns the merged packet at `packet[at..]` (headers of the first segment, then every payload)
 * into what the kernel expects after the virtio-net header at `at - VNET_HEADER_LENGTH`: IPv4
 * total length and header checksum, PSH from the last segment, the pseudo-header sum in the TCP
 * checksum field, and the GSO request (segment size `mss`).
 */
export function finishMerge(
  packet: Uint8Array,
  at: number,
  first: TcpSegment,
  totalPayload: number,
  lastPush: boolean,
): number {
  const tcp = at + 20;
  const tcpLength = first.tcpHeaderLength + totalPayload;
  const total = 20 + tcpLength;
  packet[at + 2] = total >> 8;
  packet[at + 3] = total & 0xff;
  packet[at + 10] = 0;
  packet[at + 11] = 0;
  const ipSum = ~onesComplementSum(packet, at, 20, 0) & 0xffff;
  packet[at + 10] = ipSum >> 8;
  packet[at + 11] = ipSum & 0xff;
  packet[tcp + 13] = lastPush ? TCP_ACK | TCP_PSH : TCP_ACK;
  // Pseudo-header: source, destination, zero + protocol, TCP length (RFC 9293 §3.1).
  const pseudo = onesComplementSum(packet, at + 12, 8, 6 + tcpLength);
  packet[tcp + 16] = pseudo >> 8;
  packet[tcp + 17] = pseudo & 0xff;
  const v = at - VNET_HEADER_LENGTH;
  packet[v] = VNET_F_NEEDS_CSUM;
  packet[v + 1] = VNET_GSO_TCPV4;
  writeUint16LE(packet, v + 2, 20 + first.tcpHeaderLength); // hdr_len
  writeUint16LE(packet, v + 4, first.payloadLength); // gso_size
  writeUint16LE(packet, v + 6, 20); // csum_start: the TCP header
  writeUint16LE(packet, v + 8, 16); // csum_offset: TCP checksum field
  return total;
}

/** A virtio-net header that asks nothing (an ordinary packet). */
export function plainVnetHeader(packet: Uint8Array, at: number): void {
  packet.fill(0, at, at + VNET_HEADER_LENGTH);
}

/** 16-bit one's complement sum of `length` bytes (even) plus `initial`, folded to 16 bits. */
export function onesComplementSum(bytes: Uint8Array, at: number, length: number, initial: number): number {
  let sum = initial;
  for (let i = 0; i < length; i += 2) sum += (bytes[at + i]! << 8) | bytes[at + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function writeUint16LE(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = value >> 8;
}
