import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishMerge, mergeableSegment, onesComplementSum, VNET_HEADER_LENGTH } from './tcp-coalesce.js';
import {
  completeChecksum,
  readVnetHeader,
  segmentCount,
  segmentTcp,
  sumAligned,
  sumBytes,
  type VnetHeader,
} from './tcp-segment.js';
import { checksumMemory } from './wasm-checksum.js';

/**
 * memcpy over addresses, for the test: addresses are offsets into one arena (`view` starts at 0),
 * in a checksum memory like the TUN reader ring's, so that payloads can be summed in place.
 */
const memory = checksumMemory(1 << 20)!;
const sourceSum = { sum: memory.sum, base: 0 };
const arena = Buffer.from(memory.buffer, 0, 1 << 20);
const copy = (to: number, from: number, length: number) => arena.copy(arena, to, from, from + length);
const view = new DataView(arena.buffer, arena.byteOffset, arena.byteLength);
const words = new Uint32Array(arena.buffer, arena.byteOffset, arena.byteLength >> 2);
const OUT = 1 << 19;

/** Valid IPv4/TCP segments of one flow, IDs counting up as the kernel's GSO numbers them. */
function flow(seq: number, sizes: number[], options = Buffer.alloc(0)): Buffer[] {
  let next = seq;
  return sizes.map((size, i) => {
    const tcpHeader = 20 + options.length;
    const p = Buffer.alloc(20 + tcpHeader + size);
    p[0] = 0x45;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE((0xfff0 + i) & 0xffff, 4);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p.set([192, 168, 7, 1, 10, 200, 100, 2], 12);
    p.writeUInt16BE(~onesComplementSum(p, 0, 20, 0) & 0xffff, 10);
    p.writeUInt16BE(5201, 20);
    p.writeUInt16BE(40000, 22);
    p.writeUInt32BE(next >>> 0, 24);
    p.writeUInt32BE(99, 28);
    p[32] = (tcpHeader / 4) << 4;
    p[33] = i === sizes.length - 1 ? 0x18 : 0x10;
    p.writeUInt16BE(1000, 34);
    options.copy(p, 40);
    for (let b = 0; b < size; b++) p[20 + tcpHeader + b] = (i * 31 + b) & 0xff;
    p.writeUInt16BE(tcpChecksum(p, 20), 36);
    next = (next + size) >>> 0;
    return p;
  });
}

function tcpChecksum(p: Buffer, tcp: number): number {
  const copyOf = Buffer.from(p);
  copyOf.writeUInt16BE(0, tcp + 16);
  const body = copyOf.subarray(tcp);
  const padded = body.length % 2 ? Buffer.concat([body, Buffer.alloc(1)]) : body;
  const pseudo =
    p[0]! >> 4 === 4
      ? onesComplementSum(p, 12, 8, 6 + body.length)
      : onesComplementSum(p, 8, 32, 6 + body.length);
  return ~onesComplementSum(padded, 0, padded.length, pseudo) & 0xffff;
}

/** The GSO packet the kernel would hand over for these segments (merged like tun-gro does). */
function gsoPacket(segments: Buffer[]): { vnet: Buffer; packet: Buffer } {
  const first = mergeableSegment(segments[0]!, 0, segments[0]!.length)!;
  const buffer = Buffer.alloc(VNET_HEADER_LENGTH + 65535);
  segments[0]!.copy(buffer, VNET_HEADER_LENGTH);
  let payload = first.payloadLength;
  for (const s of segments.slice(1)) {
    s.copy(buffer, VNET_HEADER_LENGTH + 20 + first.tcpHeaderLength + payload, 20 + first.tcpHeaderLength);
    payload += s.length - 20 - first.tcpHeaderLength;
  }
  const total = finishMerge(buffer, VNET_HEADER_LENGTH, first, payload, true);
  return {
    vnet: buffer.subarray(0, VNET_HEADER_LENGTH),
    packet: buffer.subarray(VNET_HEADER_LENGTH, VNET_HEADER_LENGTH + total),
  };
}

/**
 * Cuts `gso`; `byWords` = the sink also gives bytes and words (headers copied once, word sums);
 * `inSource` = payloads summed in the source (wasm-checksum.ts).
 */
function cut(
  gso: { vnet: Buffer; packet: Buffer },
  room: number,
  perCall: number,
  byWords = true,
  inSource = false,
): Buffer[] {
  const header = readVnetHeader(new DataView(gso.vnet.buffer, gso.vnet.byteOffset, 10), 0, {} as VnetHeader);
  gso.packet.copy(arena, 0);
  const sink = {
    out: view,
    outAddress: 0,
    ...(byWords ? { outBytes: arena, outWords: words } : {}),
    offsets: new Int32Array(perCall),
    lengths: new Int32Array(perCall),
  };
  const out: Buffer[] = [];
  for (let first = 0; ; ) {
    const n = segmentTcp(
      view,
      0,
      0,
      gso.packet.length,
      header,
      sink,
      OUT,
      room,
      first,
      perCall,
      copy,
      inSource ? sourceSum : undefined,
    );
    if (n < 0) break;
    for (let k = 0; k < n; k++)
      out.push(Buffer.from(arena.subarray(sink.offsets[k]!, sink.offsets[k]! + sink.lengths[k]!)));
    first += n;
  }
  return out;
}

describe('segmentTcp (GSO reads from the TUN)', () => {
  const timestamps = Buffer.from('0101080a000000010000000a', 'hex');

  it('gives back the original segments of a merged burst, checksums and IDs included', () => {
    const segments = flow(0xffffff00, [1400, 1400, 1400, 333], timestamps);
    expect(cut(gsoPacket(segments), 1472, 64)).toEqual(segments);
    expect(cut(gsoPacket(segments), 1472, 64, false)).toEqual(segments);
    expect(cut(gsoPacket(segments), 1472, 64, true, true)).toEqual(segments);
    expect(cut(gsoPacket(segments), 1472, 64, false, true)).toEqual(segments);
  });

  it('cuts a burst of many small segments over several calls', () => {
    const segments = flow(7, new Array(100).fill(300));
    expect(segmentCount(100 * 300, 300)).toBe(100);
    expect(cut(gsoPacket(segments), 512, 16)).toEqual(segments);
  });

  it('refuses what it cannot cut: not TCP GSO, a segment larger than its room', () => {
    const gso = gsoPacket(flow(1, [1000, 1000]));
    expect(cut(gso, 900, 64)).toEqual([]);
    gso.vnet[1] = 3; // GSO_UDP
    expect(cut(gso, 1472, 64)).toEqual([]);
  });

  it('round-trips any burst (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 64, max: 1420 }),
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 1420 }),
        (seq, mss, full, tail) => {
          const sizes = [...new Array(full - 1).fill(mss), Math.min(tail, mss)];
          if (40 + sizes.reduce((a, b) => a + b, 0) > 65535) return;
          const segments = flow(seq, sizes);
          expect(cut(gsoPacket(segments), 1472, 8)).toEqual(segments);
          expect(cut(gsoPacket(segments), 1472, 8, false)).toEqual(segments);
          expect(cut(gsoPacket(segments), 1472, 8, true, true)).toEqual(segments);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('sumAligned (word sums for segment checksums)', () => {
  it.each([
    ['empty', 0, 0, 0],
    ['one byte', 4, 1, 0xab00],
    ['two bytes at 2 mod 4', 6, 2, 0x0102],
    ['three bytes', 8, 3, 0x1234 + 0x5600],
  ])('%s', (_name, at, length, expected) => {
    const bytes = Buffer.alloc(16);
    bytes.set([0xab], 4);
    bytes.set([0x01, 0x02], 6);
    bytes.set([0x12, 0x34, 0x56], 8);
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 4);
    expect(sumAligned(w, bytes, at, length, 0) % 0xffff).toBe(expected % 0xffff);
  });

  it('agrees with the byte-wise sum modulo 0xffff for any even start and length (fast-check)', () => {
    const bytes = Buffer.alloc(4096);
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, 1024);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 4096);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (data, half, initial) => {
          const at = half * 2;
          bytes.set(data, at);
          expect(sumAligned(w, bytes, at, data.length, initial) % 0xffff).toBe(
            sumBytes(dv, at, data.length, initial) % 0xffff,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('segmentTcp over IPv6', () => {
  it('fixes payload lengths and computes checksums with the IPv6 pseudo-header', () => {
    const payload = Buffer.from(Array.from({ length: 2500 }, (_, i) => (i * 13) & 0xff));
    const packet = Buffer.alloc(40 + 20 + payload.length);
    packet[0] = 0x60;
    packet.writeUInt16BE(20 + payload.length, 4);
    packet[6] = 6;
    packet[7] = 64;
    Buffer.from('fd000000000000000000000000000001fd000200000000000000000000000005', 'hex').copy(packet, 8);
    packet.writeUInt16BE(443, 40);
    packet.writeUInt16BE(50000, 42);
    packet.writeUInt32BE(0xfffffc00, 44);
    packet[52] = 5 << 4;
    packet[53] = 0x19; // ACK, PSH, FIN: PSH and FIN only on the last segment
    payload.copy(packet, 60);
    packet.copy(arena, 0);
    const header = { flags: 1, gsoType: 4, hdrLen: 60, gsoSize: 1000, csumStart: 40, csumOffset: 16 };
    const sink = { out: view, outAddress: 0, offsets: new Int32Array(8), lengths: new Int32Array(8) };
    expect(segmentTcp(view, 0, 0, packet.length, header, sink, OUT, 1280, 0, 8, copy)).toBe(3);
    const segments = [0, 1, 2].map((k) =>
      Buffer.from(arena.subarray(sink.offsets[k]!, sink.offsets[k]! + sink.lengths[k]!)),
    );
    expect(segmentTcp(view, 0, 0, packet.length, header, sink, OUT, 1280, 0, 8, copy, sourceSum)).toBe(3);
    for (const [k, p] of segments.entries()) {
      expect(arena.subarray(sink.offsets[k]!, sink.offsets[k]! + sink.lengths[k]!).equals(p)).toBe(true);
    }
    expect(segments.map((p) => [p.length, p.readUInt16BE(4), p.readUInt32BE(44), p[53]])).toEqual([
      [1060, 1020, 0xfffffc00, 0x10],
      [1060, 1020, 0xfffffc00 + 1000, 0x10],
      [560, 520, (0xfffffc00 + 2000) % 2 ** 32, 0x19], // the sequence number wraps
    ]);
    expect(Buffer.concat(segments.map((p) => p.subarray(60))).equals(payload)).toBe(true);
    for (const p of segments) expect(p.readUInt16BE(56)).toBe(tcpChecksum(p, 40));
  });
});

describe('completeChecksum (VIRTIO_NET_HDR_F_NEEDS_CSUM)', () => {
  it('turns the pseudo-header sum left by the kernel into the full TCP and UDP checksums', () => {
    const [segment] = flow(5, [777]);
    const partial = Buffer.from(segment!);
    partial.writeUInt16BE(onesComplementSum(partial, 12, 8, 6 + partial.length - 20), 36);
    const needsCsum = { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 16 };
    partial.copy(arena, 0);
    expect(completeChecksum(view, 0, partial.length, needsCsum)).toBe(true);
    expect(arena.subarray(0, partial.length).equals(segment!)).toBe(true);
    partial.copy(arena, 100);
    expect(completeChecksum(view, 100, partial.length, needsCsum, sourceSum)).toBe(true);
    expect(arena.subarray(100, 100 + partial.length).equals(segment!)).toBe(true);
    expect(
      completeChecksum(view, 0, 30, {
        flags: 1,
        gsoType: 0,
        hdrLen: 0,
        gsoSize: 0,
        csumStart: 20,
        csumOffset: 16,
      }),
    ).toBe(false);
  });
});
