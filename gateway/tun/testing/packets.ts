/**
 * Builds small IPv4 packets for tests and benchmarks of the TUN path (never used on the data
 * path). Checksums are real so the kernel accepts what is written into a TUN.
 */
import { parseIPv4 } from '../../pool/ip-address.js';
import { onesComplementSum } from '../tcp-coalesce.js';

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Header(packet: Buffer, protocol: number, source: string, destination: string): void {
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet.writeUInt16BE(0x4000, 6); // don't fragment
  packet[8] = 64;
  packet[9] = protocol;
  packet.writeUInt32BE(Number(parseIPv4(source) ?? 0n), 12);
  packet.writeUInt32BE(Number(parseIPv4(destination) ?? 0n), 16);
  packet.writeUInt16BE(checksum(packet, 0, 20), 10);
}

/** An ICMP echo request from `source` to `destination`. */
export function icmpEchoRequest(
  source: string,
  destination: string,
  id: number,
  seq: number,
  payload = 32,
): Buffer {
  const packet = Buffer.alloc(20 + 8 + payload);
  ipv4Header(packet, 1, source, destination);
  packet[20] = 8;
  packet.writeUInt16BE(id, 24);
  packet.writeUInt16BE(seq, 26);
  for (let i = 0; i < payload; i++) packet[28 + i] = i & 0xff;
  packet.writeUInt16BE(checksum(packet, 20, packet.length), 22);
  return packet;
}

/** A UDP datagram (checksum 0 = none, allowed for IPv4). */
export function udpPacket(source: string, destination: string, port: number, payload: number): Buffer {
  const packet = Buffer.alloc(20 + 8 + payload);
  ipv4Header(packet, 17, source, destination);
  packet.writeUInt16BE(40000, 20);
  packet.writeUInt16BE(port, 22);
  packet.writeUInt16BE(8 + payload, 24);
  return packet;
}

export interface Ipv4Summary {
  readonly protocol: number;
  readonly source: string;
  readonly destination: string;
  /** ICMP type, when protocol is 1. */
  readonly icmpType: number | undefined;
}

export function summarizeIpv4(packet: Uint8Array): Ipv4Summary | undefined {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return undefined;
  const address = (at: number) => `${packet[at]}.${packet[at + 1]}.${packet[at + 2]}.${packet[at + 3]}`;
  const headerLength = (packet[0]! & 15) * 4;
  return {
    protocol: packet[9]!,
    source: address(12),
    destination: address(16),
    icmpType: packet[9] === 1 ? packet[headerLength] : undefined,
  };
}

/** A TCP segment (ACK) of one flow, 10.0.0.1:40000 -> 10.0.0.2:5201, sequence `seq`. */
export function tcpSegment(seq: number, payload: Buffer): Buffer {
  const packet = Buffer.alloc(40 + payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[6] = 0x40;
  packet[8] = 64;
  packet[9] = 6;
  packet.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  packet.writeUInt16BE(~onesComplementSum(packet, 0, 20, 0) & 0xffff, 10);
  packet.writeUInt16BE(40000, 20);
  packet.writeUInt16BE(5201, 22);
  packet.writeUInt32BE(seq, 24);
  packet[32] = 5 << 4;
  packet[33] = 0x10;
  packet.writeUInt16BE(500, 34);
  payload.copy(packet, 40);
  return packet;
}
