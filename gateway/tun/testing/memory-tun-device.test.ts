import { describe, expect, it } from 'vitest';
import { MemoryTunDevice } from './memory-tun-device.js';

describe('MemoryTunDevice', () => {
  it('delivers injected packets in bounded batches over one reused buffer', () => {
    const tun = new MemoryTunDevice('mem0', 100, 2);
    const seen: string[] = [];
    const batchSizes: number[] = [];
    tun.onPackets((batch) => {
      batchSizes.push(batch.count);
      for (let i = 0; i < batch.count; i++) seen.push(batch.packet(i).toString());
    });
    tun.inject(['a', 'bb', 'ccc'].map((s) => Buffer.from(s)));
    expect(seen).toEqual(['a', 'bb', 'ccc']);
    expect(batchSizes).toEqual([2, 1]);
    expect(tun.stats()).toMatchObject({ packetsIn: 3, bytesIn: 6 });
  });

  it('counts oversize packets, packets without a handler and handler exceptions', () => {
    const tun = new MemoryTunDevice('mem0', 4);
    tun.inject([Buffer.alloc(5), Buffer.alloc(1)]);
    tun.onPackets(() => {
      throw new Error('boom');
    });
    tun.inject([Buffer.alloc(1)]);
    expect(tun.stats()).toMatchObject({ errorsIn: 1, dropsIn: 1, handlerErrors: 1, packetsIn: 2 });
  });

  it('records copies of written packets and can refuse writes', () => {
    const tun = new MemoryTunDevice('mem0', 10);
    const packet = Buffer.from('hello');
    expect(tun.write(packet)).toBe(true);
    packet.fill(0);
    expect(tun.takeWritten().map(String)).toEqual(['hello']);
    tun.acceptWrites = false;
    tun.writeBatch([Buffer.from('x'), Buffer.from('y')]);
    expect(tun.write(Buffer.alloc(11))).toBe(false);
    expect(tun.stats()).toMatchObject({ packetsOut: 1, bytesOut: 5, dropsOut: 3 });
  });
});
