/**
 * The writer ring and the GSO merger on it, over a non-blocking AF_UNIX datagram socketpair that
 * stands in for a TUN fd (one write = one packet). Rings start near the int32 wrap of their
 * free-running positions: a 4-stream upload through the gateway crossed it after 2 GiB and the
 * process died with "no open reservation" (issue 10).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { libc } from './libc.js';
import { VNET_HEADER_LENGTH } from './tcp-coalesce.js';
import { tcpSegment } from './testing/packets.js';
import { TunGro } from './tun-gro.js';
import { TunWriterRing } from './tun-writer-ring.js';

const require = createRequire(import.meta.url);
const koffi = require('koffi');
const lib = koffi.load('libc.so.6');
const socketpair = lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const cRead = lib.func('long read(int fd, _Out_ uint8_t *buf, size_t count)');
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;
const INT32_WRAP = 2 ** 31;

const opened: number[] = [];
const rings: TunWriterRing[] = [];
afterEach(async () => {
  for (const r of rings.splice(0)) await r.close();
  for (const fd of opened.splice(0)) fs.closeSync(fd);
});

function ringNearWrap(bytesBeforeWrap: number): { ring: TunWriterRing; peer: number } {
  const fds = new Int32Array(2);
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds) !== 0) throw new Error('socketpair failed');
  opened.push(fds[0]!, fds[1]!);
  const ring = new TunWriterRing(fds[0]!, 'ring0', 1 << 20, INT32_WRAP - bytesBeforeWrap);
  rings.push(ring);
  return { ring, peer: fds[1]! };
}

const readBuffer = Buffer.alloc(70_000);

/** The next datagram the ring wrote, waiting for the writer thread (5 s at most). */
async function nextPacket(peer: number): Promise<Buffer> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const n = cRead(peer, readBuffer, readBuffer.length);
    if (n > 0) return Buffer.from(readBuffer.subarray(0, n));
    if (Date.now() > deadline) throw new Error('no packet from the writer thread');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function patterned(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('TunWriterRing', () => {
  it('carries entries across the int32 wrap of its positions, in order and intact', async () => {
    const { ring, peer } = ringNearWrap(200_000);
    const c = libc();
    // 40 entries of up to 60 KB: about 1.2 MB, so the positions go past 2^31 (negative) and on.
    for (let i = 0; i < 40; i++) {
      const packet = patterned(1000 + ((i * 7919) % 59_000), i);
      expect(ring.enqueueFrom(c.address(packet), packet.length, i % 2 ? VNET_HEADER_LENGTH : 0)).toBe(true);
      const got = await nextPacket(peer);
      const expected = i % 2 ? Buffer.concat([Buffer.alloc(VNET_HEADER_LENGTH), packet]) : packet;
      expect(got.equals(expected), `entry ${i}`).toBe(true);
    }
    expect(ring.failedWrites()).toBe(0);
  });

  it('refuses a second reservation and a commit without one, whatever the position', () => {
    const { ring } = ringNearWrap(8);
    expect(() => ring.commit(10)).toThrow('no open reservation');
    expect(ring.reserve(100)).toBeDefined();
    expect(() => ring.reserve(100)).toThrow('a reservation is already open');
    ring.commit(100);
    // The first reservation was the last 8 bytes before the wrap: this one is past it.
    expect(ring.reserve(100)).toBeDefined();
    ring.cancel();
    expect(() => ring.commit(10)).toThrow('no open reservation');
  });
});

describe('TunGro on the writer ring', () => {
  /** Writes `count` consecutive 1000-byte segments of one flow; returns their payloads. */
  function writeRun(gro: TunGro, seq: number, count: number, seed: number): Buffer[] {
    const payloads: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const payload = patterned(1000, seed + i);
      const segment = tcpSegment(seq + i * 1000, payload);
      const address = Number(koffi.address(segment));
      expect(gro.write(segment, 0, segment.length, address)).toBe(true);
      payloads.push(payload);
    }
    return payloads;
  }

  it('merges runs into GSO packets across the int32 wrap (each merge reserves 64 KiB)', async () => {
    const { ring, peer } = ringNearWrap(150_000);
    const faults: unknown[] = [];
    const gro = new TunGro(ring, libc(), (e) => faults.push(e));
    for (let run = 0; run < 8; run++) {
      // 60 segments: 60 KB committed per merge, so eight merges go well past the wrap.
      const payloads = writeRun(gro, 1_000_000 * run, 60, run);
      // The merge is finished at the end of the task (a microtask): yield, then read it.
      const merged = await nextPacket(peer);
      expect(merged.length, `run ${run}`).toBe(VNET_HEADER_LENGTH + 40 + 60_000);
      expect(merged.subarray(VNET_HEADER_LENGTH + 40).equals(Buffer.concat(payloads))).toBe(true);
    }
    expect(faults).toEqual([]);
    expect(gro.mergedPackets).toBe(8);
  });

  it('a fault while finishing a merge at the end of the task drops it, is reported, and the ring goes on', async () => {
    const { ring, peer } = ringNearWrap(1 << 20);
    const faults: unknown[] = [];
    const gro = new TunGro(ring, libc(), (e) => faults.push(e));
    const commit = ring.commit.bind(ring);
    let failures = 1;
    ring.commit = (length: number) => {
      if (failures-- > 0) throw new Error('injected commit fault');
      commit(length);
    };
    writeRun(gro, 0, 5, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(faults.map((e) => (e as Error).message)).toEqual(['injected commit fault']);
    const payloads = writeRun(gro, 5000, 5, 2);
    const merged = await nextPacket(peer);
    expect(merged.subarray(VNET_HEADER_LENGTH + 40).equals(Buffer.concat(payloads))).toBe(true);
  });

  it('a fault inside write is thrown to the caller after the open merge is abandoned', async () => {
    const { ring, peer } = ringNearWrap(1 << 20);
    const gro = new TunGro(ring, libc());
    writeRun(gro, 0, 3, 1);
    const reserve = ring.reserve.bind(ring);
    ring.reserve = () => {
      throw new Error('injected reserve fault');
    };
    // Another flow's segment finishes the open merge, then fails to reserve its own.
    const other = tcpSegment(77, patterned(500, 9));
    other.writeUInt16BE(40001, 20);
    expect(() => gro.write(other, 0, other.length, Number(koffi.address(other)))).toThrow(
      'injected reserve fault',
    );
    ring.reserve = reserve;
    expect((await nextPacket(peer)).length).toBe(VNET_HEADER_LENGTH + 40 + 3000);
    const payloads = writeRun(gro, 9000, 2, 3);
    const merged = await nextPacket(peer);
    expect(merged.subarray(VNET_HEADER_LENGTH + 40).equals(Buffer.concat(payloads))).toBe(true);
  });
});
