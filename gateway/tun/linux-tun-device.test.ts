/**
 * The reader thread, the ring and the write path of LinuxTunDevice, exercised without root: a
 * non-blocking AF_UNIX datagram socketpair behaves like a TUN fd (one read = one packet).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { LinuxTunDevice } from './linux-tun-device.js';
import { onesComplementSum } from './tcp-coalesce.js';
import { tcpSegment } from './testing/packets.js';

const require = createRequire(import.meta.url);
const koffi = require('koffi');
const lib = koffi.load('libc.so.6');
const socketpair = lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const cWrite = lib.func('long write(int fd, const uint8_t *buf, size_t count)');
const cRead = lib.func('long read(int fd, _Out_ uint8_t *buf, size_t count)');
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;

function datagramPair(): [number, number] {
  const fds = new Int32Array(2);
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds) !== 0) throw new Error('socketpair failed');
  return [fds[0]!, fds[1]!];
}

const opened: number[] = [];
const devices: LinuxTunDevice[] = [];
afterEach(async () => {
  for (const d of devices.splice(0)) await d.close();
  for (const fd of opened.splice(0)) fs.closeSync(fd);
});

function setup(
  options: {
    mtu?: number;
    readRingBytes?: number;
    maxBatch?: number;
    vnetHeader?: boolean;
    offload?: boolean;
  } = {},
) {
  const [deviceFd, peerFd] = datagramPair();
  opened.push(peerFd);
  const device = LinuxTunDevice.fromFd(deviceFd, 'sock0', { mtu: 1400, ...options, ownsFd: true });
  devices.push(device);
  return { device, peerFd };
}

/**
 * Writes one datagram, spinning while the socket queue is full (AF_UNIX datagram queues are short,
 * net.unix.max_dgram_qlen); the reader thread drains it meanwhile, the main thread stays blocked.
 */
function send(fd: number, packet: Buffer): void {
  const deadline = Date.now() + 5000;
  while (cWrite(fd, packet, packet.length) !== packet.length) {
    if (Date.now() > deadline) throw new Error('peer socket stays full');
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('LinuxTunDevice over a datagram socket', () => {
  it('hands packets to the handler in order, in batches, without copying', async () => {
    const { device, peerFd } = setup({ maxBatch: 16 });
    const received: number[] = [];
    let largestBatch = 0;
    device.onPackets((batch) => {
      largestBatch = Math.max(largestBatch, batch.count);
      for (let i = 0; i < batch.count; i++) {
        expect(batch.lengths[i]).toBe(100);
        received.push(batch.data.readUInt32BE(batch.offsets[i]!));
      }
    });
    const packet = Buffer.alloc(100);
    for (let i = 0; i < 500; i++) {
      packet.writeUInt32BE(i, 0);
      send(peerFd, packet);
    }
    await until(() => received.length === 500);
    expect(received).toEqual([...Array(500).keys()]);
    expect(largestBatch).toBeLessThanOrEqual(16);
    expect(device.stats()).toMatchObject({ packetsIn: 500, bytesIn: 50_000, dropsIn: 0 });
  });

  it('drops and counts when the main thread falls behind, and counts oversize packets', async () => {
    // A 1024-byte ring: each 64-byte packet takes 72 bytes, and the reader only reads when the
    // largest packet would fit (8 + 208 bytes): 12 packets fit, the other 38 are dropped.
    const { device, peerFd } = setup({ readRingBytes: 1024, mtu: 200 });
    let delivered = 0;
    device.onPackets((batch) => {
      delivered += batch.count;
    });
    // The main thread stays busy in send() and below, so the reader fills the ring and then drops.
    send(peerFd, Buffer.alloc(201));
    for (let i = 0; i < 50; i++) send(peerFd, Buffer.alloc(64));
    // Stay blocked until the reader has taken every packet off the socket.
    const deadline = Date.now() + 5000;
    while (device.stats().dropsIn + device.stats().errorsIn < 39 && Date.now() < deadline) {}
    await until(() => delivered === 12);
    await new Promise((r) => setTimeout(r, 50));
    expect(delivered).toBe(12);
    expect(device.stats()).toMatchObject({ dropsIn: 38, errorsIn: 1 });
  });

  it('writes each packet as one datagram (through the writer thread) and refuses packets above the MTU', async () => {
    const { device, peerFd } = setup({ mtu: 100 });
    expect(device.write(Buffer.from('one'))).toBe(true);
    device.writeBatch([Buffer.from('two'), Buffer.alloc(101)]);
    const buf = Buffer.alloc(200);
    const got: string[] = [];
    await until(() => {
      for (let n = cRead(peerFd, buf, 200); n > 0; n = cRead(peerFd, buf, 200))
        got.push(buf.toString('utf8', 0, n));
      return got.length >= 2;
    });
    expect(got).toEqual(['one', 'two']);
    expect(device.stats()).toMatchObject({ packetsOut: 2, bytesOut: 6, dropsOut: 1 });
  });

  it('survives a throwing handler and closes promptly (idempotent)', async () => {
    const { device, peerFd } = setup();
    device.onPackets(() => {
      throw new Error('handler bug');
    });
    cWrite(peerFd, Buffer.alloc(10), 10);
    await until(() => device.stats().handlerErrors === 1);
    const started = Date.now();
    await Promise.all([device.close(), device.close()]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(device.readerFailure()).toBe(0);
    expect(device.write(Buffer.alloc(1))).toBe(false);
  });

  it('with virtio-net headers: strips them on read, and writes a run of TCP segments as one GSO packet', async () => {
    const { device, peerFd } = setup({ mtu: 1400, vnetHeader: true });
    const received: Buffer[] = [];
    device.onPackets((batch) => {
      for (let i = 0; i < batch.count; i++) received.push(Buffer.from(batch.packet(i)));
    });
    send(peerFd, Buffer.concat([Buffer.alloc(10), Buffer.from('an ip packet')]));
    await until(() => received.length === 1);
    expect(received[0]!.toString()).toBe('an ip packet');

    const segments = [0, 1, 2].map((i) => tcpSegment(1000 + i * 1000, Buffer.alloc(1000, i)));
    const source = Buffer.concat([Buffer.alloc(3), ...segments]);
    const address = Number(koffi.address(source));
    let offset = 3;
    for (const s of segments) {
      expect(device.writeFrom(source, offset, s.length, address)).toBe(true);
      offset += s.length;
    }
    expect(device.write(Buffer.from('plain'))).toBe(true);
    const buf = Buffer.alloc(70000);
    const got: Buffer[] = [];
    await until(() => {
      for (let n = cRead(peerFd, buf, buf.length); n > 0; n = cRead(peerFd, buf, buf.length))
        got.push(Buffer.from(buf.subarray(0, n)));
      return got.length >= 2;
    });
    const [merged, plain] = got;
    expect(merged!.subarray(0, 10).toString('hex')).toBe('0101' + '2800' + 'e803' + '1400' + '1000');
    expect(merged!.length).toBe(10 + 40 + 3000);
    expect(merged!.readUInt16BE(10 + 2)).toBe(3040);
    expect(merged!.subarray(10 + 40).equals(Buffer.concat(segments.map((s) => s.subarray(40))))).toBe(true);
    expect(plain!.equals(Buffer.concat([Buffer.alloc(10), Buffer.from('plain')]))).toBe(true);
    expect(device.mergeStats()).toEqual({ segments: 3, packets: 1 });
    expect(device.stats()).toMatchObject({ packetsOut: 4, dropsOut: 0 });
  });
});

describe('LinuxTunDevice with TUN offloads (GSO reads)', () => {
  it('cuts a GSO read into segments with valid checksums and completes a partial checksum', async () => {
    const { device, peerFd } = setup({ mtu: 1400, vnetHeader: true, offload: true });
    const received: Buffer[] = [];
    device.onPackets((batch) => {
      for (let i = 0; i < batch.count; i++) received.push(Buffer.from(batch.packet(i)));
    });
    // What the kernel hands over: 3 x 1000 bytes of one flow as one packet, checksum left partial.
    const big = tcpSegment(5000, Buffer.alloc(3000, 0x42));
    big.writeUInt16BE(onesComplementSum(big, 12, 8, 6 + big.length - 20), 36);
    const vnet = Buffer.from('0101' + '2800' + 'e803' + '1400' + '1000', 'hex');
    send(peerFd, Buffer.concat([vnet, big]));
    // An ordinary packet with a partial checksum (NEEDS_CSUM, no GSO).
    const small = tcpSegment(9000, Buffer.from('tail'));
    small.writeUInt16BE(onesComplementSum(small, 12, 8, 6 + small.length - 20), 36);
    send(peerFd, Buffer.concat([Buffer.from('0100' + '0000' + '0000' + '1400' + '1000', 'hex'), small]));
    await until(() => received.length === 4);
    expect(received.map((p) => [p.length, p.readUInt32BE(24)])).toEqual([
      [1040, 5000],
      [1040, 6000],
      [1040, 7000],
      [44, 9000],
    ]);
    for (const p of received) {
      expect(onesComplementSum(p, 0, 20, 0)).toBe(0xffff);
      const tcp = p.length % 2 ? Buffer.concat([p.subarray(20), Buffer.alloc(1)]) : p.subarray(20);
      expect(onesComplementSum(tcp, 0, tcp.length, onesComplementSum(p, 12, 8, 6 + p.length - 20))).toBe(
        0xffff,
      );
    }
  });
});

/** IPv4/TCP, ACK only, 10.0.0.1 -> 10.0.0.2, valid IP header checksum. */
