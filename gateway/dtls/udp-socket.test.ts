import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { ChunkPool } from '../tls/chunk-pool.js';
import { loadEvp } from '../tls/evp.js';
import { BurstPacer } from './burst-pacer.js';
import { MmsgSender } from './mmsg-sender.js';
import { UdpSocket } from './udp-socket.js';

const evp = loadEvp()!;

/** A plain dgram receiver on loopback collecting what arrives. */
async function receiver(type: 'udp4' | 'udp6', host: string) {
  const socket = createSocket({ type, recvBufferSize: 1 << 22 });
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, host, r));
  return { port: socket.address().port, got, close: () => socket.close() };
}

describe('UDP socket of the DTLS channel', () => {
  it.each([
    ['udp4', '127.0.0.1'],
    ['udp6', '::1'],
  ] as const)(
    '%s: a burst of datagrams leaves in sendmmsg batches, intact and in order; chunks come back',
    async (type, host) => {
      const rx = await receiver(type, host);
      const pool = new ChunkPool(evp, 2048, 256);
      const udp = await UdpSocket.bind(host, 0, pool, () => undefined);
      try {
        expect(udp.batched).toBe(process.platform === 'linux');
        const to = udp.destination(host, rx.port);
        expect(to.name.length).toBe(type === 'udp4' ? 16 : 28);
        for (let i = 0; i < 200; i++) {
          const chunk = pool.take();
          chunk.buffer.writeUInt32BE(i, 0);
          chunk.buffer.fill(i & 0xff, 4, 1000);
          udp.send(chunk, 1000, to);
        }
        await new Promise((r) => setTimeout(r, 200));
        expect(rx.got.map((d) => d.readUInt32BE(0))).toEqual(Array.from({ length: 200 }, (_, i) => i));
        expect(rx.got.every((d) => d.length === 1000 && d[999] === (d.readUInt32BE(0) & 0xff))).toBe(true);
        expect(pool.freeChunks).toBeGreaterThanOrEqual(64);
      } finally {
        rx.close();
        await udp.close();
      }
    },
  );

  it.runIf(process.platform === 'linux').each([
    // Datagrams sent in one turn, then in the next, and the pauses expected: batches hold 64,
    // and a full batch leaves (then the pause) when the next datagram of the turn is queued.
    [200, 0, 3],
    [64, 0, 0],
    [65, 0, 1],
    [200, 130, 5],
  ])(
    'a turn of %i datagrams then one of %i: %i pauses, and every datagram arrives',
    async (first, second, pauses) => {
      const rx = await receiver('udp4', '127.0.0.1');
      const pool = new ChunkPool(evp, 2048, 512);
      const slept: number[] = [];
      const pacer = new BurstPacer(100, 8, (ms) => slept.push(ms));
      const udp = await UdpSocket.bind('127.0.0.1', 0, pool, () => undefined, 2048, pacer);
      try {
        const to = udp.destination('127.0.0.1', rx.port);
        let n = 0;
        const turn = (count: number) => {
          for (let i = 0; i < count; i++, n++) {
            const chunk = pool.take();
            chunk.buffer.writeUInt32BE(n, 0);
            udp.send(chunk, 200, to);
          }
        };
        turn(first);
        await new Promise((r) => setImmediate(r));
        turn(second);
        for (let i = 0; i < 100 && rx.got.length < first + second; i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(slept).toEqual(Array(pauses).fill(0.1));
        expect(rx.got.map((d) => d.readUInt32BE(0))).toEqual(
          Array.from({ length: first + second }, (_, i) => i),
        );
      } finally {
        rx.close();
        await udp.close();
      }
    },
  );

  it('maps an IPv4 client of an IPv6 socket (::ffff:a.b.c.d)', () => {
    const sender = MmsgSender.open(-1, true)!;
    const d = sender.destination('192.0.2.7', 443);
    expect(d.name.subarray(0, 4).toString('hex')).toBe('0a0001bb');
    expect(d.name.subarray(8, 24).toString('hex')).toBe('00000000000000000000ffffc0000207');
    const v4 = MmsgSender.open(-1, false)!.destination('192.0.2.7', 443);
    expect(v4.name.toString('hex')).toBe('020001bbc0000207' + '00'.repeat(8));
  });
});
