import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { type BurstCount, newBurstCount } from './burst-pacer.js';
import {
  AF_INET,
  AF_INET6,
  IOVEC,
  type Koffi,
  libcForMmsg,
  MMSGHDR,
  MSG_DONTWAIT,
  writePointer,
} from './mmsghdr.js';

/** A destination in the form sendmmsg takes it: a sockaddr in memory of its own. */
export interface Destination {
  readonly address: string;
  readonly port: number;
  readonly name: Buffer;
  readonly nameAddress: number;
  /** Datagrams queued to it in the current turn (burst-pacer.ts). */
  readonly burst: BurstCount;
}

/** cmsg of UDP_SEGMENT (<linux/udp.h>): SOL_UDP, CMSG_SPACE(sizeof(uint16_t)) on LP64. */
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const CMSG_SPACE = 24;
const CMSG_LEN = 18;
/** The kernel's limits on one GSO send (UDP_MAX_SEGMENTS; an IPv4 datagram's largest payload). */
const MAX_SEGMENTS = 64;
const MAX_GSO_BYTES = 65507;
/**
 * Largest segment merged: a datagram that fills a 1500-byte link (IPv4, IPv6 headers). A larger
 * segment than the path MTU makes the kernel refuse the whole message (EINVAL), which would turn
 * GSO off for every client of the socket because of one whose MTU claims were too large.
 */
const MAX_SEGMENT_V4 = 1472;
const MAX_SEGMENT_V6 = 1452;
/** errno of a GSO send the route or device cannot take (no checksum offload: EIO; EINVAL, EOPNOTSUPP). */
const GSO_REFUSED = new Set([5, 22, 95]);

/**
 * Sends many UDP datagrams with one sendmmsg(2) on a socket's descriptor (through koffi):
 * node:dgram makes a syscall, a request object and a callback per datagram (about 4 µs each
 * here), which made the DTLS download path the gateway's bottleneck. Datagrams are queued by
 * address and length (the caller keeps the bytes alive until `flush`), then sent in batches of
 * up to `capacity`; the headers live in preallocated native buffers.
 *
 * UDP GSO (UDP_SEGMENT, Linux 4.18): a run of datagrams to one destination, all of one length
 * but the last, which may be shorter, goes as one message of several iovecs with the segment
 * size in a cmsg; the kernel takes it through the UDP/IP stack once and cuts it at the device
 * (or the NIC does). A bulk download seals every full-size packet to the same length, so most of
 * a batch travels as a few messages. Where the kernel refuses GSO, the batch is sent again
 * datagram by datagram and GSO stays off for this sender.
 */
export class MmsgSender {
  private readonly headers: Buffer;
  private readonly iovecs: Buffer;
  private readonly controls: Buffer;
  private readonly headersAddress: number;
  private readonly iovecsAddress: number;
  private readonly controlsAddress: number;
  /** Datagrams queued, and messages (mmsghdrs) they make. */
  private count = 0;
  private messages = 0;
  /** Datagrams in each message, and its destination. */
  private readonly segments: Uint16Array;
  private readonly destinations: Destination[] = [];
  /** The open message's destination, segment size and bytes; whether a shorter datagram closed it. */
  private runTo = -1;
  private runSize = 0;
  private runBytes = 0;
  private runClosed = true;
  private readonly maxSegment: number;
  /** Messages sent with more than one datagram, and the datagrams in them (for tests and metrics). */
  gsoMessages = 0;
  gsoDatagrams = 0;

  private constructor(
    private readonly fd: number,
    private readonly ipv6: boolean,
    private readonly koffi: Koffi,
    private readonly sendmmsg: (fd: number, msgs: number, n: number, flags: number) => number,
    readonly capacity: number,
    /** Whether runs to one destination go as GSO messages. */
    public gso: boolean,
  ) {
    this.maxSegment = ipv6 ? MAX_SEGMENT_V6 : MAX_SEGMENT_V4;
    this.headers = Buffer.alloc(MMSGHDR * capacity);
    this.iovecs = Buffer.alloc(IOVEC * capacity);
    this.controls = Buffer.alloc(CMSG_SPACE * capacity);
    this.headersAddress = Number(koffi.address(this.headers));
    this.iovecsAddress = Number(koffi.address(this.iovecs));
    this.controlsAddress = Number(koffi.address(this.controls));
    this.segments = new Uint16Array(capacity);
    for (let i = 0; i < capacity; i++) {
      writePointer(this.controls, i * CMSG_SPACE, CMSG_LEN); // cmsg_len
      this.controls.writeInt32LE(SOL_UDP, i * CMSG_SPACE + 8); // cmsg_level
      this.controls.writeInt32LE(UDP_SEGMENT, i * CMSG_SPACE + 12); // cmsg_type
    }
  }

  /** A sender for descriptor `fd`, or undefined where koffi or sendmmsg is missing (then node:dgram). */
  static open(fd: number, ipv6: boolean, capacity = 64, gso = true): MmsgSender | undefined {
    const libc = libcForMmsg();
    if (!libc) return undefined;
    const { koffi, lib } = libc;
    try {
      const sendmmsg = lib.func('sendmmsg', 'int', ['int', 'uintptr_t', 'unsigned int', 'int']) as (
        fd: number,
        msgs: number,
        n: number,
        flags: number,
      ) => number;
      return new MmsgSender(fd, ipv6, koffi, sendmmsg, capacity, gso);
    } catch {
      return undefined;
    }
  }

  /** The sockaddr for address:port in this socket's family (IPv4 clients of an IPv6 socket mapped). */
  destination(address: string, port: number): Destination {
    let name: Buffer;
    if (!this.ipv6) {
      name = Buffer.alloc(16);
      name.writeUInt16LE(AF_INET, 0);
      name.writeUInt16BE(port, 2);
      Buffer.from(ipaddr.parse(address).toByteArray()).copy(name, 4);
    } else {
      name = Buffer.alloc(28);
      name.writeUInt16LE(AF_INET6, 0);
      name.writeUInt16BE(port, 2);
      const parsed = isIPv4(address) ? ipaddr.parse(`::ffff:${address}`) : ipaddr.parse(address);
      const bytes = parsed.kind() === 'ipv4' ? (parsed as ipaddr.IPv4).toIPv4MappedAddress() : parsed;
      Buffer.from(bytes.toByteArray()).copy(name, 8);
    }
    return { address, port, name, nameAddress: Number(this.koffi.address(name)), burst: newBurstCount() };
  }

  get queued(): number {
    return this.count;
  }

  /** Queues `length` bytes at native address `at` for `to`; false when the batch is full (flush first). */
  queue(at: number, length: number, to: Destination): boolean {
    if (this.count === this.capacity) return false;
    const i = this.count++;
    writePointer(this.iovecs, i * IOVEC, at);
    writePointer(this.iovecs, i * IOVEC + 8, length);
    const h = this.headers;
    if (
      this.gso &&
      !this.runClosed &&
      to.nameAddress === this.runTo &&
      length <= this.runSize &&
      this.segments[this.messages - 1]! < MAX_SEGMENTS &&
      this.runBytes + length <= MAX_GSO_BYTES
    ) {
      // One more segment of the open message: its iovecs are consecutive.
      const m = this.messages - 1;
      const o = m * MMSGHDR;
      const n = ++this.segments[m]!;
      writePointer(h, o + 24, n); // msg_iovlen
      if (n === 2) {
        this.controls.writeUInt16LE(this.runSize, m * CMSG_SPACE + 16); // gso_size
        writePointer(h, o + 32, this.controlsAddress + m * CMSG_SPACE); // msg_control
        writePointer(h, o + 40, CMSG_SPACE); // msg_controllen
      }
      this.runBytes += length;
      // A shorter datagram can only be the last segment.
      if (length < this.runSize) this.runClosed = true;
      return true;
    }
    const m = this.messages++;
    const o = m * MMSGHDR;
    writePointer(h, o, to.nameAddress); // msg_name
    h.writeUInt32LE(to.name.length, o + 8); // msg_namelen
    writePointer(h, o + 16, this.iovecsAddress + i * IOVEC); // msg_iov
    writePointer(h, o + 24, 1); // msg_iovlen
    writePointer(h, o + 32, 0); // msg_control
    writePointer(h, o + 40, 0); // msg_controllen
    this.segments[m] = 1;
    this.destinations[m] = to;
    this.runTo = to.nameAddress;
    this.runSize = length;
    this.runBytes = length;
    this.runClosed = length > this.maxSegment;
    return true;
  }

  /**
   * Sends what is queued. Returns how many datagrams the kernel took; the rest (a full socket
   * buffer, EAGAIN) are dropped, like a full queue on the way.
   */
  flush(): number {
    let sent = 0;
    let datagrams = 0;
    while (sent < this.messages) {
      const n = this.sendmmsg(
        this.fd,
        this.headersAddress + sent * MMSGHDR,
        this.messages - sent,
        MSG_DONTWAIT,
      );
      if (n <= 0) {
        if (n < 0 && this.segments[sent]! > 1 && GSO_REFUSED.has(this.koffi.errno())) {
          datagrams += this.withoutGso(sent);
        }
        break;
      }
      for (let m = sent; m < sent + n; m++) {
        const k = this.segments[m]!;
        datagrams += k;
        if (k > 1) {
          this.gsoMessages++;
          this.gsoDatagrams += k;
        }
      }
      sent += n;
    }
    this.count = 0;
    this.messages = 0;
    this.runClosed = true;
    return datagrams;
  }

  /** GSO was refused: it stays off; the messages from `first` on are queued again one datagram each and sent. */
  private withoutGso(first: number): number {
    this.gso = false;
    let datagram = 0;
    for (let m = 0; m < first; m++) datagram += this.segments[m]!;
    const pending: { at: number; length: number; to: Destination }[] = [];
    for (let m = first; m < this.messages; m++) {
      const to = this.destinations[m]!;
      for (let k = 0; k < this.segments[m]!; k++, datagram++) {
        const v = datagram * IOVEC;
        pending.push({ at: readPointer(this.iovecs, v), length: readPointer(this.iovecs, v + 8), to });
      }
    }
    this.count = 0;
    this.messages = 0;
    this.runClosed = true;
    for (const p of pending) this.queue(p.at, p.length, p.to);
    return this.flush();
  }
}

function readPointer(source: Buffer, at: number): number {
  return source.readUInt32LE(at) + source.readUInt32LE(at + 4) * 2 ** 32;
}
