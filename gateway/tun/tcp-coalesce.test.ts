import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  continuesMerge,
  finishMerge,
  mergeableSegment,
  onesComplementSum,
  VNET_HEADER_LENGTH,
} from './tcp-coalesce.js';

interface Segment {
  seq: number;
  payload: Buffer;
  push?: boolean;
  flags?: number;
  ttl?: number;
  window?: number;
  options?: Buffer;
}

/** An IPv4/TCP segment with valid checksums (10.0.0.1:40000 -> 10.0.0.2:5201). */
function segment(s: Segment): Buffer {
  const options = s.options ?? Buffer.alloc(0);
  const tcpHeader = 20 + options.length;
  const packet = Buffer.alloc(20 + tcpHeader + s.payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet.writeUInt16BE(0x1234, 4);
  packet[6] = 0x40; // DF
  packet[8] = s.ttl ?? 64;
  packet[9] = 6;
  packet.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  packet.writeUInt16BE(~onesComplementSum(packet, 0, 20, 0) & 0xffff, 10);
  const tcp = 20;
  packet.writeUInt16BE(40000, tcp);
  packet.writeUInt16BE(5201, tcp + 2);
  packet.writeUInt32BE(s.seq >>> 0, tcp + 4);
  packet.writeUInt32BE(777, tcp + 8);
  packet[tcp + 12] = (tcpHeader / 4) << 4;
  packet[tcp + 13] = s.flags ?? (s.push ? 0x18 : 0x10);
  packet.writeUInt16BE(s.window ?? 502, tcp + 14);
  options.copy(packet, tcp + 20);
  s.payload.copy(packet, tcp + tcpHeader);
  packet.writeUInt16BE(tcpChecksum(packet), tcp + 16);
  return packet;
}

function tcpChecksum(packet: Buffer): number {
  const tcpLength = packet.length - 20;
  const copy = Buffer.from(packet);
  copy.writeUInt16BE(0, 36);
  const padded = tcpLength % 2 ? Buffer.concat([copy.subarray(20), Buffer.alloc(1)]) : copy.subarray(20);
  let sum = onesComplementSum(copy, 12, 8, 6 + tcpLength);
  sum = onesComplementSum(padded, 0, padded.length, sum);
  return ~sum & 0xffff;
}

/**
 * What the kernel does with the merged packet (the reference): cut the payload into gso_size
 * pieces behind copies of the headers, fix lengths, sequence numbers, PSH and checksums.
 */
function segmentLikeTheKernel(vnet: Buffer, merged: Buffer): Buffer[] {
  expect(vnet[0]).toBe(1); // NEEDS_CSUM
  expect(vnet[1]).toBe(1); // GSO_TCPV4
  const hdrLen = vnet.readUInt16LE(2);
  const mss = vnet.readUInt16LE(4);
  expect(vnet.readUInt16LE(6)).toBe(20);
  expect(vnet.readUInt16LE(8)).toBe(16);
  expect(merged.readUInt16BE(2)).toBe(merged.length);
  expect(onesComplementSum(merged, 0, 20, 0)).toBe(0xffff); // valid IPv4 header checksum
  const payload = merged.subarray(hdrLen);
  const out: Buffer[] = [];
  const seq0 = merged.readUInt32BE(24);
  for (let off = 0; off < payload.length; off += mss) {
    const piece = payload.subarray(off, Math.min(off + mss, payload.length));
    const last = off + mss >= payload.length;
    const packet = Buffer.concat([merged.subarray(0, hdrLen), piece]);
    packet.writeUInt16BE(packet.length, 2);
    packet.writeUInt16BE(0, 10);
    packet.writeUInt16BE(~onesComplementSum(packet, 0, 20, 0) & 0xffff, 10);
    packet.writeUInt32BE((seq0 + off) >>> 0, 24);
    if (!last) packet[33] = 0x10;
    packet.writeUInt16BE(tcpChecksum(packet), 36);
    out.push(packet);
  }
  return out;
}

/** Merges `segments` the way TunGro does (into a vnet-prefixed buffer); undefined if they cannot merge. */
function merge(segments: Buffer[]): { vnet: Buffer; merged: Buffer } | undefined {
  const first = mergeableSegment(segments[0]!, 0, segments[0]!.length);
  if (!first) return undefined;
  const buffer = Buffer.alloc(VNET_HEADER_LENGTH + 65535);
  segments[0]!.copy(buffer, VNET_HEADER_LENGTH);
  let payload = first.payloadLength;
  let nextSeq = (first.seq + first.payloadLength) >>> 0;
  let lastPush = first.push;
  for (const next of segments.slice(1)) {
    const s = mergeableSegment(next, 0, next.length);
    if (!s || !continuesMerge(buffer, VNET_HEADER_LENGTH, first, nextSeq, next, 0, s)) return undefined;
    next.copy(buffer, VNET_HEADER_LENGTH + 20 + first.tcpHeaderLength + payload, 20 + s.tcpHeaderLength);
    payload += s.payloadLength;
    nextSeq = (nextSeq + s.payloadLength) >>> 0;
    lastPush = s.push;
  }
  const total = finishMerge(buffer, VNET_HEADER_LENGTH, first, payload, lastPush);
  return {
    vnet: buffer.subarray(0, VNET_HEADER_LENGTH),
    merged: buffer.subarray(VNET_HEADER_LENGTH, VNET_HEADER_LENGTH + total),
  };
}

function flow(seq: number, sizes: number[], options?: Buffer): Buffer[] {
  let next = seq;
  return sizes.map((size, i) => {
    const p = segment({
      seq: next,
      payload: Buffer.alloc(size, i + 1),
      push: i === sizes.length - 1,
      ...(options ? { options } : {}),
    });
    next = (next + size) >>> 0;
    return p;
  });
}

describe('TCP segment merging (userspace GRO)', () => {
  const timestamps = Buffer.from('0101080a000000010000000a', 'hex');

  it('merges a run, and the kernel-style split gives back the original segments', () => {
    const segments = flow(0xfffff000, [1400, 1400, 1400, 700], timestamps); // sequence wraps
    const merged = merge(segments)!;
    expect(merged.vnet.readUInt16LE(4)).toBe(1400);
    expect(segmentLikeTheKernel(merged.vnet, merged.merged)).toEqual(segments);
  });

  it.each([
    [
      'a gap in sequence numbers',
      () => [segment({ seq: 1, payload: Buffer.alloc(10) }), segment({ seq: 20, payload: Buffer.alloc(10) })],
    ],
    [
      'a different TTL',
      () => [
        segment({ seq: 1, payload: Buffer.alloc(10) }),
        segment({ seq: 11, payload: Buffer.alloc(10), ttl: 63 }),
      ],
    ],
    [
      'a different window',
      () => [
        segment({ seq: 1, payload: Buffer.alloc(10) }),
        segment({ seq: 11, payload: Buffer.alloc(10), window: 1 }),
      ],
    ],
    [
      'a longer segment after a shorter one',
      () => [segment({ seq: 1, payload: Buffer.alloc(10) }), segment({ seq: 11, payload: Buffer.alloc(20) })],
    ],
    [
      'different options',
      () => [
        segment({ seq: 1, payload: Buffer.alloc(10), options: Buffer.from('01010101', 'hex') }),
        segment({ seq: 11, payload: Buffer.alloc(10), options: Buffer.from('01010102', 'hex') }),
      ],
    ],
  ])('does not merge across %s', (_, make) => {
    expect(merge(make())).toBeUndefined();
  });

  it('leaves alone what is not a plain ACK segment with data', () => {
    expect(mergeableSegment(segment({ seq: 1, payload: Buffer.alloc(0) }), 0, 40)).toBeUndefined();
    const syn = segment({ seq: 1, payload: Buffer.alloc(5), flags: 0x02 });
    expect(mergeableSegment(syn, 0, syn.length)).toBeUndefined();
    const fin = segment({ seq: 1, payload: Buffer.alloc(5), flags: 0x11 });
    expect(mergeableSegment(fin, 0, fin.length)).toBeUndefined();
    const udp = segment({ seq: 1, payload: Buffer.alloc(5) });
    udp[9] = 17;
    expect(mergeableSegment(udp, 0, udp.length)).toBeUndefined();
    const fragment = segment({ seq: 1, payload: Buffer.alloc(5) });
    fragment[6] = 0x20; // MF
    expect(mergeableSegment(fragment, 0, fragment.length)).toBeUndefined();
    const short = segment({ seq: 1, payload: Buffer.alloc(5) });
    expect(mergeableSegment(short, 0, short.length - 1)).toBeUndefined();
  });

  it('round-trips any run of full segments plus a tail (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 1460 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 1460 }),
        fc.boolean(),
        (seq, mss, full, tailSize, withOptions) => {
          const sizes = [
            ...new Array(full).fill(mss),
            ...(tailSize > 0 && tailSize <= mss ? [tailSize] : []),
          ];
          const segments = flow(seq, sizes, withOptions ? timestamps : undefined);
          const total = 20 + (withOptions ? 32 : 20) + sizes.reduce((a, b) => a + b, 0);
          if (total > 65535) return;
          const merged = merge(segments)!;
          expect(segmentLikeTheKernel(merged.vnet, merged.merged)).toEqual(segments);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never throws on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(300), (bytes, length) => {
        const b = Buffer.from(bytes);
        mergeableSegment(b, 0, Math.min(length, b.length));
      }),
    );
  });
});
