import { describe, expect, it } from 'vitest';
import type { Chunk } from '../tls/chunk-pool.js';
import { ChunkPool } from '../tls/chunk-pool.js';
import type { TransportHandlers, TunnelTransport } from '../tunnel/transport.js';
import { newBurstCount } from './burst-pacer.js';
import { DtlsStats } from './dtls-stats.js';
import { DtlsTransport } from './dtls-transport.js';
import { handshake, harness, pskClient } from './testing/harness.js';

class Tls implements TunnelTransport {
  readonly kind = 'outpost';
  readonly protocol = 'tls';
  packets: Buffer[] = [];
  setHandlers(_h: TransportHandlers): void {}
  sendPacket(data: Buffer, offset: number, length: number): boolean {
    this.packets.push(Buffer.from(data.subarray(offset, offset + length)));
    return true;
  }
  sendFrame(): void {}
  end(): void {}
  destroy(): void {}
}

function setup(dataMtu = 1400) {
  const h = harness();
  const client = handshake(h, pskClient(h.evp));
  const channel = h.channels[0]!;
  const wire: Buffer[] = [];
  let queued = 0;
  const pool = new ChunkPool(h.evp, 2048, 4);
  const socket = {
    pool,
    destination: (address: string, port: number) => ({
      address,
      port,
      name: Buffer.alloc(0),
      nameAddress: 0,
      burst: newBurstCount(),
    }),
    get queuedBytes() {
      return queued;
    },
    send(chunk: Chunk, length: number) {
      wire.push(Buffer.from(chunk.buffer.subarray(0, length)));
      pool.give(chunk);
    },
  };
  const tls = new Tls();
  const stats = new DtlsStats();
  let now = 1_000_000;
  const transport = new DtlsTransport({
    evp: h.evp,
    channel,
    socket,
    fallback: tls,
    dataMtu,
    dpd: 5,
    maxQueuedBytes: 10_000,
    stats,
    now: () => now,
  });
  const up: Array<{ frame: Buffer; address: number }> = [];
  const closed: string[] = [];
  transport.setHandlers({
    data: (buffer, start, end, address) =>
      up.push({ frame: Buffer.from(buffer.subarray(start, end)), address }),
    closed: (r) => closed.push(r),
  });
  return {
    h,
    client,
    transport,
    wire,
    tls,
    stats,
    up,
    closed,
    setQueued: (n: number) => {
      queued = n;
    },
    at: (t: number) => {
      now = t;
    },
  };
}

const cstp = (type: number, payload: string) => {
  const p = Buffer.from(payload, 'hex');
  return Buffer.concat([Buffer.from([0x53, 0x54, 0x46, 0x01, p.length >> 8, p.length & 0xff, type, 0]), p]);
};

describe('CSTP over DTLS (the tunnel’s datagram transport)', () => {
  it('hands DATA up as a CSTP frame written in place, with the native address', () => {
    const s = setup();
    s.h.deliver(s.client.seal(Buffer.from('00450000aa', 'hex')));
    expect(s.up.map((u) => u.frame.toString('hex'))).toEqual([cstp(0, '450000aa').toString('hex')]);
    expect(s.up[0]!.address).toBeGreaterThan(0);
    expect(s.stats).toMatchObject({ packetsIn: 1, bytesIn: 4 });
  });

  it('answers a DTLS DPD request on DTLS with its own bytes (MTU probes), hands keepalives and DISCONNECT up', () => {
    const s = setup();
    s.h.deliver(s.client.seal(Buffer.from('03deadbeef0000', 'hex')));
    const answer = s.h.sent.at(-1)!;
    expect(s.client.open(answer).map((p) => p.toString('hex'))).toEqual(['04deadbeef0000']);
    s.h.deliver(s.client.seal(Buffer.from('07', 'hex')));
    s.h.deliver(s.client.seal(Buffer.from('05b0', 'hex')));
    expect(s.up.map((u) => u.frame.toString('hex'))).toEqual([
      cstp(7, '').toString('hex'),
      cstp(5, 'b0').toString('hex'),
    ]);
    s.h.deliver(s.client.seal(Buffer.from('08aa', 'hex')));
    expect(s.stats.drops['unexpected-record']).toBe(1);
  });

  it('seals each packet into one datagram the client opens; bigger than the DTLS MTU goes to TLS', () => {
    const s = setup(100);
    const small = Buffer.alloc(100, 7);
    const big = Buffer.alloc(101, 8);
    expect(s.transport.sendPacket(small, 0, 100, -1)).toBe(true);
    expect(s.transport.sendPacket(big, 0, 101, -1)).toBe(true);
    expect(s.wire).toHaveLength(1);
    expect(s.client.open(s.wire[0]!)[0]!.equals(Buffer.concat([Buffer.of(0), small]))).toBe(true);
    expect(s.tls.packets.map((p) => p.length)).toEqual([101]);
    expect(s.stats).toMatchObject({ packetsOut: 1, bytesOut: 100, toTls: 1 });
  });

  it('drops (false) when the socket is not draining, never queues without bound', () => {
    const s = setup();
    s.setQueued(20_000);
    expect(s.transport.sendPacket(Buffer.alloc(10), 0, 10, -1)).toBe(false);
    expect(s.wire).toHaveLength(0);
  });

  it('probes after 2×dpd of silence and closes after 3×dpd; then packets go to TLS', () => {
    const s = setup();
    s.transport.idle(1_000_000 + 10_001);
    expect(s.client.open(s.h.sent.at(-1)!).map((p) => p.toString('hex'))).toEqual(['03']);
    s.transport.idle(1_000_000 + 15_001);
    expect(s.closed).toEqual(['DTLS dead peer (DPD)']);
    s.transport.sendPacket(Buffer.alloc(10), 0, 10, -1);
    expect(s.tls.packets).toHaveLength(1);
  });

  it('keeps a channel that hears from the client alive', () => {
    const s = setup();
    for (let t = 1; t <= 30; t++) {
      s.h.deliver(s.client.seal(Buffer.from('07', 'hex')));
      s.transport.idle(1_000_000 + t * 1000);
    }
    expect(s.closed).toEqual([]);
  });

  it('end() sends close_notify, destroy() closes silently', () => {
    const s = setup();
    const before = s.h.sent.length;
    s.transport.end();
    expect(s.h.sent.length).toBe(before + 1);
    expect(s.closed).toEqual(['tunnel ended']);
    const t = setup();
    const quiet = t.h.sent.length;
    t.transport.destroy();
    expect(t.h.sent.length).toBe(quiet);
  });
});
