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

  // Each turn is a list of [client, datagrams] sends in order; batches hold 64, and a full batch
  // leaves (then the pause, if any) when the next datagram of the turn is queued.
  it.runIf(process.platform === 'linux').each([
    ['one client, 200 datagrams', [[[0, 200]]], 3],
    ['one client, one batch', [[[0, 64]]], 0],
    ['one client, one batch and one', [[[0, 65]]], 1],
    ['one client, 200 then 130 in the next turn', [[[0, 200]], [[0, 130]]], 5],
    [
      'four clients, 60 each (four batches, no burst to one client above a batch)',
      [
        [
          [0, 60],
          [1, 60],
          [2, 60],
          [3, 60],
        ],
      ],
      0,
    ],
    [
      'four clients, one TUN read (45) each, twice: only the batch end at 256 falls past 64 to one client (B)',
      [
        [
          [0, 45],
          [1, 45],
          [2, 45],
          [3, 45],
          [0, 45],
          [1, 45],
          [2, 45],
          [3, 45],
        ],
      ],
      1,
    ],
    [
      'two clients, 60 each, in two turns',
      [
        [
          [0, 60],
          [1, 60],
        ],
        [
          [1, 60],
          [0, 60],
        ],
      ],
      0,
    ],
  ] as const)('%s: %j → %i pauses, and every datagram arrives in order', async (_name, turns, pauses) => {
    const rx = await Promise.all([0, 1, 2, 3].map(() => receiver('udp4', '127.0.0.1')));
    const pool = new ChunkPool(evp, 2048, 512);
    const slept: number[] = [];
    const pacer = new BurstPacer(100, 64, 8, (ms) => slept.push(ms));
    const udp = await UdpSocket.bind('127.0.0.1', 0, pool, () => undefined, 2048, pacer);
    try {
      const to = rx.map((r) => udp.destination('127.0.0.1', r.port));
      const sent: number[][] = rx.map(() => []);
      let n = 0;
      for (const turn of turns) {
        for (const [client, count] of turn) {
          for (let i = 0; i < count; i++, n++) {
            const chunk = pool.take();
            chunk.buffer.writeUInt32BE(n, 0);
            udp.send(chunk, 200, to[client]!);
            sent[client]!.push(n);
          }
        }
        await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < 100 && rx.some((r, c) => r.got.length < sent[c]!.length); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(slept).toEqual(Array(pauses).fill(0.1));
      expect(rx.map((r) => r.got.map((d) => d.readUInt32BE(0)))).toEqual(sent);
    } finally {
      for (const r of rx) r.close();
      await udp.close();
    }
  });

  it('maps an IPv4 client of an IPv6 socket (::ffff:a.b.c.d)', () => {
    const sender = MmsgSender.open(-1, true)!;
    const d = sender.destination('192.0.2.7', 443);
    expect(d.name.subarray(0, 4).toString('hex')).toBe('0a0001bb');
    expect(d.name.subarray(8, 24).toString('hex')).toBe('00000000000000000000ffffc0000207');
    const v4 = MmsgSender.open(-1, false)!.destination('192.0.2.7', 443);
    expect(v4.name.toString('hex')).toBe('020001bbc0000207' + '00'.repeat(8));
  });
});
