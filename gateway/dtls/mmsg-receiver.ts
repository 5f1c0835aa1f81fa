import { formatIPv6 } from '../pool/ip-address.js';
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

/** Offsets in struct mmsghdr: msg_hdr.msg_namelen, msg_hdr.msg_flags, msg_len. */
const NAMELEN = 8;
const FLAGS = 48;
const MSG_LEN = 56;
/** Room per source address: a struct sockaddr_in6. */
const NAME = 28;
const MSG_TRUNC = 0x20;

/** One datagram of a batch: `buffer[offset, offset + length)` at native address `address + offset`. */
export interface ReceivedDatagram {
  /** False when the datagram did not fit its slot (MSG_TRUNC) or its source is not IP: drop it. */
  readonly intact: boolean;
  readonly offset: number;
  readonly length: number;
  /** The source, as node:dgram spells it ('192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1'). */
  readonly address: string;
  readonly port: number;
}

/**
 * Receives up to `capacity` UDP datagrams with one recvmmsg(2) on a socket's descriptor (through
 * koffi), never blocking (MSG_DONTWAIT): the caller knows from elsewhere that the socket is
 * readable. node:dgram makes a syscall, a 64 KiB allocation, a Buffer and a call into JavaScript
 * per datagram, and each call ends its own task, so packets of one burst could not be merged
 * into one TUN write (gateway/tun/tun-gro.ts merges what arrives in one task).
 *
 * The datagrams land in fixed slots of one buffer (`buffer`, native address `address`) and stay
 * valid until the next `receive`; the caller may change them in place (decryption). Source
 * addresses are turned into strings once per run of datagrams from the same source.
 */
export class MmsgReceiver {
  /** The slots, `slot` bytes each. */
  readonly buffer: Buffer;
  /** Native address of `buffer`. */
  readonly address: number;
  /** The mmsghdrs, then the iovecs they point to (one per slot, never changed). */
  private readonly headers: Buffer;
  private readonly names: Buffer;
  private readonly headersAddress: number;
  private readonly datagrams: {
    intact: boolean;
    offset: number;
    length: number;
    address: string;
    port: number;
  }[];
  /** The last source seen and its string (a burst comes from one client). */
  private readonly lastName = Buffer.alloc(NAME);
  private lastAddress = '';

  private constructor(
    private readonly fd: number,
    koffi: Koffi,
    private readonly recvmmsg: (
      fd: number,
      msgs: number,
      n: number,
      flags: number,
      timeout: number,
    ) => number,
    readonly capacity: number,
    readonly slot: number,
  ) {
    this.buffer = Buffer.alloc(capacity * slot);
    this.headers = Buffer.alloc((MMSGHDR + IOVEC) * capacity);
    this.names = Buffer.alloc(NAME * capacity);
    this.address = Number(koffi.address(this.buffer));
    this.headersAddress = Number(koffi.address(this.headers));
    const namesAddress = Number(koffi.address(this.names));
    const iovecs = MMSGHDR * capacity;
    const iovecsAddress = this.headersAddress + iovecs;
    this.datagrams = [];
    for (let i = 0; i < capacity; i++) {
      const o = i * MMSGHDR;
      writePointer(this.headers, o, namesAddress + i * NAME); // msg_name
      writePointer(this.headers, o + 16, iovecsAddress + i * IOVEC); // msg_iov
      writePointer(this.headers, o + 24, 1); // msg_iovlen
      writePointer(this.headers, iovecs + i * IOVEC, this.address + i * slot);
      writePointer(this.headers, iovecs + i * IOVEC + 8, slot);
      this.datagrams.push({ intact: false, offset: i * slot, length: 0, address: '', port: 0 });
    }
  }

  /**
   * A receiver for descriptor `fd` with `capacity` slots of `slot` bytes, or undefined where
   * koffi or recvmmsg is missing (then node:dgram receives alone).
   */
  static open(fd: number, capacity = 64, slot = 2048): MmsgReceiver | undefined {
    const libc = libcForMmsg();
    if (!libc) return undefined;
    const { koffi, lib } = libc;
    try {
      const recvmmsg = lib.func('recvmmsg', 'int', [
        'int',
        'uintptr_t',
        'unsigned int',
        'int',
        'uintptr_t',
      ]) as (fd: number, msgs: number, n: number, flags: number, timeout: number) => number;
      return new MmsgReceiver(fd, koffi, recvmmsg, capacity, slot);
    } catch {
      return undefined;
    }
  }

  /**
   * Reads what is waiting, up to `capacity` datagrams, and returns how many (0 when nothing is,
   * or on an error such as EAGAIN: the socket's readiness will call again). `datagram(i)` then
   * describes each.
   */
  receive(): number {
    const h = this.headers;
    // The kernel writes each used msg_namelen back; every slot gets its full room again.
    for (let i = 0; i < this.capacity; i++) h.writeUInt32LE(NAME, i * MMSGHDR + NAMELEN);
    const n = this.recvmmsg(this.fd, this.headersAddress, this.capacity, MSG_DONTWAIT, 0);
    if (n <= 0) return 0;
    for (let i = 0; i < n; i++) this.describe(i);
    return n;
  }

  /** The i-th datagram of the last `receive` (the same object every time: read it before the next call). */
  datagram(i: number): ReceivedDatagram {
    return this.datagrams[i]!;
  }

  private describe(i: number): void {
    const h = this.headers;
    const d = this.datagrams[i]!;
    const o = i * MMSGHDR;
    d.length = h.readUInt32LE(o + MSG_LEN);
    const names = this.names;
    const at = i * NAME;
    const family = names.readUInt16LE(at);
    d.port = names.readUInt16BE(at + 2);
    d.intact = (h.readInt32LE(o + FLAGS) & MSG_TRUNC) === 0 && (family === AF_INET || family === AF_INET6);
    if (!d.intact) return;
    const size = family === AF_INET ? 8 : NAME;
    if (this.lastAddress !== '' && names.compare(this.lastName, 0, size, at, at + size) === 0) {
      d.address = this.lastAddress;
      return;
    }
    d.address =
      family === AF_INET ? ipv4At(names, at + 4) : ipv6At(names, at + 8, names.readUInt32LE(at + 24));
    this.lastName.fill(0);
    names.copy(this.lastName, 0, at, at + size);
    this.lastAddress = d.address;
  }
}

function ipv4At(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * An IPv6 address as libuv's inet_ntop writes it, so that node:dgram and this receiver name a
 * client alike: RFC 5952 (gateway/pool/ip-address.ts), except that IPv4-mapped (::ffff:a.b.c.d)
 * and IPv4-compatible (::a.b.c.d) addresses end in a dotted quad. A scope ID is appended as a
 * number (node would give the interface name; link-local clients of the gateway are not
 * expected, and a mismatch costs at most a new DTLS handshake).
 */
export function ipv6At(b: Buffer, at: number, scope = 0): string {
  const high = b.readUInt32BE(at) + b.readUInt32BE(at + 4) + b.readUInt16BE(at + 8);
  const word5 = b.readUInt16BE(at + 10);
  let out: string;
  // libuv: the zero run covers exactly words 0-5 (word 6 not zero), or words 0-4 before ffff.
  if (high === 0 && (word5 === 0xffff || (word5 === 0 && b.readUInt16BE(at + 12) !== 0))) {
    out = `::${word5 === 0xffff ? 'ffff:' : ''}${ipv4At(b, at + 12)}`;
  } else {
    let value = 0n;
    for (let i = 0; i < 16; i += 4) value = (value << 32n) | BigInt(b.readUInt32BE(at + i));
    out = formatIPv6(value);
  }
  return scope === 0 ? out : `${out}%${scope}`;
}
