import { createSocket, type Socket } from 'node:dgram';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { libc } from '../tun/libc.js';
import { type Destination, MmsgSender } from './mmsg-sender.js';
import { descriptorOf } from './udp-socket.js';

const linux = process.platform === 'linux';

async function bound(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 22, sendBufferSize: 1 << 22 });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return socket;
}

/** Two receivers and a sender; `send` queues datagrams of the given sizes, alternating runs between them. */
async function setup() {
  const from = await bound();
  const rx = [await bound(), await bound()];
  const got: Buffer[][] = [[], []];
  for (const [i, s] of rx.entries()) s.on('message', (m) => got[i]!.push(m));
  const sender = MmsgSender.open(descriptorOf(from)!, false)!;
  const to = rx.map((s) => sender.destination('127.0.0.1', s.address().port));
  const c = libc();
  const keep: Buffer[] = [];
  let n = 0;
  const queue = (size: number, where: Destination) => {
    const b = Buffer.alloc(size, n & 0xff);
    b.writeUInt32BE(n++, 0);
    keep.push(b);
    if (!sender.queue(c.address(b), size, where)) throw new Error('batch full');
    return b;
  };
  const arrived = async (count: number) => {
    for (let i = 0; i < 200 && got[0]!.length + got[1]!.length < count; i++)
      await new Promise((r) => setTimeout(r, 10));
  };
  const close = () => {
    for (const s of [from, ...rx]) s.close();
  };
  return { from, sender, to, got, queue, arrived, close };
}

describe.runIf(linux)('sendmmsg with UDP GSO', () => {
  it('runs to one destination go as GSO messages; sizes, order and content arrive as queued', async () => {
    const t = await setup();
    try {
      const sizes = [...Array(10).fill(1000), 600, ...Array(5).fill(1000), 1200, 1200, 300, 1400];
      const expected: Buffer[][] = [[], []];
      for (const [i, size] of sizes.entries()) {
        const d = i >= 11 && i < 14 ? 1 : 0; // a run to the second receiver in between
        expected[d]!.push(t.queue(size, t.to[d]!));
      }
      const queued = t.sender.queued;
      expect(t.sender.flush()).toBe(queued);
      await t.arrived(sizes.length);
      expect(t.got).toEqual(expected);
      // 10×1000+600 | 3×1000 (other receiver) | 2×1000+... : fewer messages than datagrams.
      expect(t.sender.gsoMessages).toBeGreaterThanOrEqual(3);
      expect(t.sender.gsoDatagrams).toBeGreaterThanOrEqual(15);
    } finally {
      t.close();
    }
  });

  it('a message stays within 64 KiB: 64 datagrams of 1400 bytes make several', async () => {
    const t = await setup();
    try {
      const expected = Array.from({ length: 64 }, () => t.queue(1400, t.to[0]!));
      expect(t.sender.flush()).toBe(64);
      await t.arrived(64);
      expect(t.got[0]).toEqual(expected);
      expect(t.sender.gsoMessages).toBe(2); // 46 + 18 (65507 / 1400)
    } finally {
      t.close();
    }
  });

  it('datagrams larger than a 1500-byte link takes are never merged (the kernel would refuse the whole message)', async () => {
    const t = await setup();
    try {
      const expected = [
        ...Array.from({ length: 8 }, () => t.queue(2000, t.to[0]!)),
        ...Array.from({ length: 8 }, () => t.queue(1472, t.to[0]!)),
      ];
      expect(t.sender.flush()).toBe(16);
      await t.arrived(16);
      expect(t.got[0]).toEqual(expected);
      expect([t.sender.gsoMessages, t.sender.gsoDatagrams]).toEqual([1, 8]);
      expect(t.sender.gso).toBe(true);
    } finally {
      t.close();
    }
  });

  it('where the kernel refuses GSO (SO_NO_CHECK), the batch goes datagram by datagram and GSO stays off', async () => {
    const t = await setup();
    try {
      const koffi = createRequire(import.meta.url)('koffi') as {
        load(p: string): { func(n: string, r: string, a: string[]): (...a: unknown[]) => number };
      };
      const setsockopt = koffi
        .load('libc.so.6')
        .func('setsockopt', 'int', ['int', 'int', 'int', 'int *', 'uint32']);
      expect(setsockopt(descriptorOf(t.from), 1 /* SOL_SOCKET */, 11 /* SO_NO_CHECK */, [1], 4)).toBe(0);
      const expected = Array.from({ length: 20 }, () => t.queue(1000, t.to[0]!));
      expect(t.sender.flush()).toBe(20);
      expect(t.sender.gso).toBe(false);
      await t.arrived(20);
      expect(t.got[0]).toEqual(expected);
      expect(t.sender.gsoMessages).toBe(0);
    } finally {
      t.close();
    }
  });
});
