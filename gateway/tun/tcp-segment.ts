/**
 * The other half of the TUN offloads (see tcp-coalesce.ts for packets going in): with TSO enabled
 * on the TUN (TUNSETOFFLOAD), the kernel hands over a whole TCP send burst as one GSO packet of up
 * to 64 KiB behind a virtio-net header, instead of segmenting it in software and queueing every
 * segment for its own read(2). This file cuts such a packet into the segments the tunnel carries,
 * the way the kernel's tcp_gso_segment would: headers copied, IPv4 total length / IPv6 payload
 * length, IPv4 ID and header checksum, TCP sequence number, FIN/PSH only on the last segment, CWR
 * only on the first, and every TCP checksum computed. It also completes the checksum of ordinary
 * packets the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM, with TUN_F_CSUM enabled).
 *
 * Byte reads go through DataViews: the source is the reader ring (a SharedArrayBuffer), whose
 * bulk copies are left to `copy` (memcpy: V8 copies SAB memory slowly, see libc.ts).
 */

export const VNET_F_NEEDS_CSUM = 1;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_ECN = 0x80;

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** The fields of a virtio-net header (little-endian), read at `at`. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function readVnetHeader(view: DataView, at: number, into: VnetHeader): VnetHeader {
  into.flags = view.getUint8(at);
  into.gsoType = view.getUint8(at + 1);
  into.hdrLen = view.getUint16(at + 2, true);
  into.gsoSize = view.getUint16(at + 4, true);
  into.csumStart = view.getUint16(at + 6, true);
  into.csumOffset = view.getUint16(at + 8, true);
  return into;
}

/** 16-bit one's complement sum of `view[at, at + length)` added to `sum` (not folded). */
export function sumBytes(view: DataView, at: number, length: number, sum: number): number {
  let s = sum;
  let i = at;
  const words = at + (length & ~3);
  for (; i < words; i += 4) {
    const w = view.getUint32(i);
    s += (w >>> 16) + (w & 0xffff);
  }
  if (i + 2 <= at + length) {
    s += view.getUint16(i);
    i += 2;
  }
  if (i < at + length) s += view.getUint8(i) << 8;
  return s;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * `sumBytes` over a 2-byte aligned range of a buffer seen through `words` (a Uint32Array over the
 * same memory as `bytes`, both from offset 0): whole 32-bit words in native order, four sums so
 * that the loads run in parallel. Twice as fast as DataView reads on the hot path (every
 * segment's TCP checksum). Native-order words sum to the big-endian sum times 2^8 modulo 0xffff
 * on little-endian machines (RFC 1071 §2(B)): reduced and rotated back before it is added.
 */
export function sumAligned(
  words: Uint32Array,
  bytes: Uint8Array,
  at: number,
  length: number,
  sum: number,
): number {
  const end = at + length;
  let i = at;
  let s = sum;
  if ((i & 3) !== 0 && i + 2 <= end) {
    s += (bytes[i]! << 8) | bytes[i + 1]!;
    i += 2;
  }
  if ((i & 3) === 0) {
    let w = i >> 2;
    const last = end >> 2;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (; w + 3 < last; w += 4) {
      a += words[w]!;
      b += words[w + 1]!;
      c += words[w + 2]!;
      d += words[w + 3]!;
    }
    for (; w < last; w++) a += words[w]!;
    // Reduced the way fold() does: a non-zero sum stays non-zero (0xffff, not 0).
    const total = a + b + c + d;
    const native = total === 0 ? 0 : ((total - 1) % 0xffff) + 1;
    s += LITTLE_ENDIAN ? ((native & 0xff) << 8) | (native >>> 8) : native;
    i = w << 2;
  }
  if (i + 2 <= end) {
    s += (bytes[i]! << 8) | bytes[i + 1]!;
    i += 2;
  }
  if (i < end) s += bytes[i]! << 8;
  return s;
}

export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * Completes a partial checksum in place: the field at `csumStart + csumOffset` holds the
 * pseudo-header sum; the result covers everything from `csumStart` to the end (the kernel's
 * skb_checksum_help). False when the offsets do not fit the packet.
 */
export function completeChecksum(
  view: DataView,
  at: number,
  length: number,
  header: VnetHeader,
  sourceSum?: SourceSum,
): boolean {
  const start = header.csumStart;
  const field = start + header.csumOffset;
  if (start >= length || field + 2 > length) return false;
  const partial = sourceSum
    ? sourceSum.sum(sourceSum.base + at + start, length - start)
    : sumBytes(view, at + start, length - start, 0);
  let sum = ~fold(partial) & 0xffff;
  // UDP (checksum at offset 6) writes 0 as 0xffff: 0 means "no checksum" there (RFC 768).
  if (sum === 0 && header.csumOffset === 6) sum = 0xffff;
  view.setUint16(at + field, sum);
  return true;
}

/**
 * The checksum of source bytes in native code (wasm-checksum.ts): `sum(base + at, length)` for
 * the source view's `at`, folded to 1..0xffff (0 only for all-zero bytes).
 */
export interface SourceSum {
  readonly sum: (at: number, length: number) => number;
  readonly base: number;
}

/** Where the segments go: `out` (a normal buffer) from `outAt`, one after another. */
export interface SegmentSink {
  readonly out: DataView;
  readonly outAddress: number;
  /**
   * `out`'s memory as bytes and 32-bit words (from its offset 0, which must be 4-byte aligned):
   * headers are then copied once per call from the source and checksums summed by words.
   */
  readonly outBytes?: Uint8Array;
  readonly outWords?: Uint32Array;
  offsets: Int32Array;
  lengths: Int32Array;
}

/**
 * Cuts the GSO packet `src[at, at + length)` (IP header first; `srcAddress` = src's address)
 * into segments, starting with segment number `first`, written to `sink` from `outAt`: at most
 * `maxSegments` of at most `segmentRoom` bytes each. Returns how many were written (call again
 * from `first` + that number while `first` + it < segmentCount), or -1 when the packet is not a
 * TCP GSO packet this can cut (the caller then drops it). With `sourceSum`, each payload's share
 * of the TCP checksum is summed in the source (wasm-checksum.ts), only the headers here.
 */
export function segmentTcp(
  src: DataView,
  srcAddress: number,
  at: number,
  length: number,
  header: VnetHeader,
  sink: SegmentSink,
  outAt: number,
  segmentRoom: number,
  first: number,
  maxSegments: number,
  copy: (to: number, from: number, length: number) => void,
  sourceSum?: SourceSum,
): number {
  const gso = header.gsoType & ~VNET_GSO_ECN;
  const v4 = gso === VNET_GSO_TCPV4;
  if (!v4 && gso !== VNET_GSO_TCPV6) return -1;
  const tcp = header.csumStart;
  if (tcp < (v4 ? 20 : 40) || tcp + 20 > length) return -1;
  const ipHeader = v4 ? (src.getUint8(at) & 0x0f) * 4 : 40;
  if (ipHeader < 20 || ipHeader > tcp) return -1;
  const tcpHeader = (src.getUint8(at + tcp + 12) >> 4) * 4;
  const headers = tcp + tcpHeader;
  const mss = header.gsoSize;
  if (tcpHeader < 20 || headers > length || mss === 0 || headers + mss > segmentRoom) return -1;
  const payload = length - headers;
  const count = Math.min(maxSegments, segmentCount(length - headers, mss) - first);
  if (count <= 0 || src.getUint8(at) >> 4 !== (v4 ? 4 : 6)) return -1;
  const { out, outBytes, outWords } = sink;
  // Word sums need 4-byte aligned segments: slots aligned, TCP header at a multiple of 4.
  const fast = outBytes !== undefined && outWords !== undefined && ((outAt | segmentRoom | tcp) & 3) === 0;
  const seq0 = src.getUint32(at + tcp + 4);
  const id0 = v4 ? src.getUint16(at + 4) : 0;
  const flags = src.getUint8(at + tcp + 13);
  const segments = segmentCount(payload, mss);
  for (let k = 0; k < count; k++) {
    const i = first + k;
    const o = outAt + k * segmentRoom;
    const size = Math.min(mss, payload - i * mss);
    const total = headers + size;
    // Headers: from the source (a SharedArrayBuffer: memcpy) once, then from the first slot.
    if (fast && k > 0) outBytes.copyWithin(o, outAt, outAt + headers);
    else copy(sink.outAddress + o, srcAddress + at, headers);
    if (size > 0) copy(sink.outAddress + o + headers, srcAddress + at + headers + i * mss, size);
    const last = i === segments - 1;
    let f = flags;
    if (!last) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    out.setUint8(o + tcp + 13, f);
    out.setUint32(o + tcp + 4, (seq0 + i * mss) >>> 0);
    if (v4) {
      out.setUint16(o + 2, total);
      out.setUint16(o + 4, (id0 + i) & 0xffff);
      out.setUint16(o + 10, 0);
      const ipSum = fast ? sumAligned(outWords, outBytes, o, ipHeader, 0) : sumBytes(out, o, ipHeader, 0);
      out.setUint16(o + 10, ~fold(ipSum) & 0xffff);
    } else {
      out.setUint16(o + 4, total - 40);
    }
    // TCP checksum: pseudo-header (RFC 9293 §3.1 / RFC 8200 §8.1) + header + payload.
    const tcpLength = total - tcp;
    out.setUint16(o + tcp + 16, 0);
    const pseudoAt = v4 ? o + 12 : o + 8;
    const pseudoLength = v4 ? 8 : 32;
    // With sourceSum only the header is summed here, the payload where it lies in the source
    // (it starts tcpHeader bytes, a multiple of 4, after the TCP header: the same word pairs).
    const summed = sourceSum ? tcpHeader : tcpLength;
    let sum = 6 + tcpLength;
    if (fast) {
      sum = sumAligned(outWords, outBytes, pseudoAt, pseudoLength, sum);
      sum = sumAligned(outWords, outBytes, o + tcp, summed, sum);
    } else {
      sum = sumBytes(out, pseudoAt, pseudoLength, sum);
      sum = sumBytes(out, o + tcp, summed, sum);
    }
    if (sourceSum && size > 0) sum += sourceSum.sum(sourceSum.base + at + headers + i * mss, size);
    out.setUint16(o + tcp + 16, ~fold(sum) & 0xffff);
    sink.offsets[k] = o;
    sink.lengths[k] = total;
  }
  return count;
}

/** Segments a GSO payload of `payload` bytes makes at segment size `mss` (at least one). */
export function segmentCount(payload: number, mss: number): number {
  return Math.max(1, Math.ceil(payload / mss));
}
