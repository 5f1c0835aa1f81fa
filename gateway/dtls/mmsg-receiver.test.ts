import { createSocket } from 'node:dgram';
import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkPool } from '../tls/chunk-pool.js';
import { loadEvp } from '../tls/evp.js';
import { ipv6At } from './mmsg-receiver.js';
import { type DtlsSocketDrop, UdpSocket } from './udp-socket.js';

const evp = loadEvp()!;
const linux = process.platform === 'linux';

interface Got {
  bytes: Buffer;
  address: string;
  port: number;
  native: number;
  /** The native address of the buffer as the EVP binding sees it (must equal `native` when known). */
  actual: number;
}

/** A UdpSocket on host collecting what it receives (copied: the slots are reused). */
async function listener(host: string, maxDatagram?: number, fail?: (d: Buffer) => boolean) {
  const got: Got[] = [];
  const drops: DtlsSocketDrop[] = [];
  const udp = await UdpSocket.bind(
    host,
    0,
    new ChunkPool(evp, 2048, 8),
    (buffer, start, end, address, port, native) => {
      const datagram = buffer.subarray(start, end);
      if (fail?.(datagram)) throw new Error('handler fault');
      got.push({ bytes: Buffer.from(datagram), address, port, native, actual: evp.address(buffer) });
    },
    maxDatagram,
  );
  udp.onDrop = (reason) => drops.push(reason);
  return { udp, got, drops };
}

/** A plain node:dgram sender; `send` queues every datagram in one go (a burst). */
async function sender(type: 'udp4' | 'udp6', host: string) {
  const socket = createSocket({ type, sendBufferSize: 1 << 22 });
  await new Promise<void>((r) => socket.bind(0, host, r));
  return {
    port: socket.address().port,
    send: (datagrams: Buffer[], to: string, port: number) =>
      Promise.all(datagrams.map((d) => new Promise((r) => socket.send(d, port, to, r)))),
    close: () => socket.close(),
  };
}

const numbered = (count: number, size: (i: number) => number) =>
  Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(size(i), i & 0xff);
    b.writeUInt32BE(i, 0);
    return b;
  });

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('batched UDP receive (recvmmsg) of the DTLS socket', () => {
  it.each([
    // listen on, send from, the source as node:dgram names it
    ['127.0.0.1', 'udp4', '127.0.0.1', '127.0.0.1'],
    ['::1', 'udp6', '::1', '::1'],
    ['::', 'udp4', '127.0.0.1', '::ffff:127.0.0.1'],
  ] as const)(
    'on %s from %s %s: a burst arrives whole, in order, mostly in batches, named as node:dgram names it',
    async (host, type, from, expected) => {
      const rx = await listener(host);
      const tx = await sender(type, from);
      try {
        expect(rx.udp.batchedReceive).toBe(linux);
        const burst = numbered(300, (i) => 40 + ((i * 37) % 1400));
        await tx.send(burst, host === '::' ? '127.0.0.1' : host, rx.udp.port);
        await until(() => rx.got.length >= burst.length);
        expect(rx.got.map((g) => g.bytes)).toEqual(burst);
        expect(new Set(rx.got.map((g) => `${g.address}|${g.port}`))).toEqual(
          new Set([`${expected}|${tx.port}`]),
        );
        for (const g of rx.got) if (g.native >= 0) expect(g.native).toBe(g.actual);
        // node:dgram reads the first datagram of each readiness, recvmmsg the rest.
        if (linux) expect(rx.got.filter((g) => g.native >= 0).length).toBeGreaterThan(burst.length / 2);
        expect(rx.drops).toEqual([]);
      } finally {
        tx.close();
        await rx.udp.close();
      }
    },
  );

  it.runIf(linux)(
    'a datagram larger than a slot is dropped and counted, the rest of the batch arrives',
    async () => {
      const rx = await listener('127.0.0.1', 512);
      const tx = await sender('udp4', '127.0.0.1');
      try {
        // The first is read by node:dgram (no slot limit); the rest by recvmmsg into 512-byte slots.
        const burst = numbered(6, (i) => (i === 3 ? 1000 : 100));
        await tx.send(burst, '127.0.0.1', rx.udp.port);
        await until(() => rx.got.length + rx.drops.length >= burst.length);
        expect(rx.got.map((g) => g.bytes.readUInt32BE(0))).toEqual([0, 1, 2, 4, 5]);
        expect(rx.drops).toEqual(['truncated']);
      } finally {
        tx.close();
        await rx.udp.close();
      }
    },
  );

  it('a datagram whose handling throws is dropped and counted; the read loop goes on', async () => {
    const rx = await listener('127.0.0.1', undefined, (d) => d.readUInt32BE(0) % 10 === 7);
    const tx = await sender('udp4', '127.0.0.1');
    try {
      const burst = numbered(200, () => 64);
      await tx.send(burst, '127.0.0.1', rx.udp.port);
      await until(() => rx.got.length + rx.drops.length >= burst.length);
      expect(rx.got.map((g) => g.bytes.readUInt32BE(0))).toEqual(
        Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 10 !== 7),
      );
      expect(rx.drops).toEqual(Array(20).fill('internal'));
    } finally {
      tx.close();
      await rx.udp.close();
    }
  });

  it.each([
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ['000000000000000000000000c0000201', '::192.0.2.1'],
    ['00010000000000020000000000000003', '1:0:0:2::3'],
    ['00010000000200000003000000040000', '1:0:2:0:3:0:4:0'],
    ['20010db8000000000000000000000000', '2001:db8::'],
  ])('names %s %s, as libuv does', (hex, expected) => {
    expect(ipv6At(Buffer.from(hex, 'hex'), 0)).toBe(expected);
  });

  it('names every IPv6 address as libuv (node:dgram) does', () => {
    // Zero-heavy words, so that runs of zeros and the IPv4 forms come up often.
    const word = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const b = Buffer.alloc(16);
        for (const [i, w] of words.entries()) b.writeUInt16BE(w, 2 * i);
        const full = words.map((w) => w.toString(16)).join(':');
        expect(ipv6At(b, 0)).toBe(new SocketAddress({ address: full, family: 'ipv6' }).address);
      }),
      { numRuns: 2000 },
    );
  });
});
