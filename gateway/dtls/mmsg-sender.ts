import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
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
}

/**
 * Sends many UDP datagrams with one sendmmsg(2) on a socket's descriptor (through koffi):
 * node:dgram makes a syscall, a request object and a callback per datagram (about 4 µs each
 * here), which made the DTLS download path the gateway's bottleneck. Datagrams are queued by
 * address and length (the caller keeps the bytes alive until `flush`), then sent in batches of
 * up to `capacity`; the headers live in two preallocated native buffers.
 */
export class MmsgSender {
  private readonly headers: Buffer;
  private readonly iovecs: Buffer;
  private readonly headersAddress: number;
  private readonly iovecsAddress: number;
  private count = 0;

  private constructor(
    private readonly fd: number,
    private readonly ipv6: boolean,
    private readonly koffi: Koffi,
    private readonly sendmmsg: (fd: number, msgs: number, n: number, flags: number) => number,
    readonly capacity: number,
  ) {
    this.headers = Buffer.alloc(MMSGHDR * capacity);
    this.iovecs = Buffer.alloc(IOVEC * capacity);
    this.headersAddress = Number(koffi.address(this.headers));
    this.iovecsAddress = Number(koffi.address(this.iovecs));
  }

  /** A sender for descriptor `fd`, or undefined where koffi or sendmmsg is missing (then node:dgram). */
  static open(fd: number, ipv6: boolean, capacity = 64): MmsgSender | undefined {
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
      return new MmsgSender(fd, ipv6, koffi, sendmmsg, capacity);
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
    return { address, port, name, nameAddress: Number(this.koffi.address(name)) };
  }

  get queued(): number {
    return this.count;
  }

  /** Queues `length` bytes at native address `at` for `to`; false when the batch is full (flush first). */
  queue(at: number, length: number, to: Destination): boolean {
    if (this.count === this.capacity) return false;
    const i = this.count++;
    const h = this.headers;
    const o = i * MMSGHDR;
    writePointer(h, o, to.nameAddress); // msg_name
    h.writeUInt32LE(to.name.length, o + 8); // msg_namelen
    writePointer(h, o + 16, this.iovecsAddress + i * IOVEC); // msg_iov
    writePointer(h, o + 24, 1); // msg_iovlen
    // msg_control, msg_controllen, msg_flags, msg_len stay 0 (zeroed once, never written).
    writePointer(this.iovecs, i * IOVEC, at);
    writePointer(this.iovecs, i * IOVEC + 8, length);
    return true;
  }

  /**
   * Sends what is queued. Returns how many datagrams the kernel took; the rest (a full socket
   * buffer, EAGAIN) are dropped, like a full queue on the way.
   */
  flush(): number {
    let sent = 0;
    while (sent < this.count) {
      const n = this.sendmmsg(this.fd, this.headersAddress + sent * MMSGHDR, this.count - sent, MSG_DONTWAIT);
      if (n <= 0) break;
      sent += n;
    }
    this.count = 0;
    return sent;
  }
}
