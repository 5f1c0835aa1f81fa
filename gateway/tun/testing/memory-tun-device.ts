/**
 * An in-memory PacketDevice for tests of the session and data path: `inject` plays the kernel sending
 * packets into the tunnel, `written` records what the gateway wrote back. Batches are delivered the
 * same way as by the real device (one reused buffer, offsets and lengths), so code that wrongly
 * keeps a batch past its callback fails here too.
 */

import type { PacketBatch } from '../packet-batch.js';
import { ReusablePacketBatch } from '../packet-batch.js';
import { emptyTunStats, type PacketDevice, type TunStats } from '../packet-device.js';

export class MemoryTunDevice implements PacketDevice {
  /** Copies of every packet written, oldest first. */
  readonly written: Buffer[] = [];
  /** Set to false to make writes fail (as when the kernel refuses them). */
  acceptWrites = true;
  private handler: ((batch: PacketBatch) => void) | undefined;
  private readonly counters: TunStats = emptyTunStats();
  private readonly batch: ReusablePacketBatch;
  private closed = false;

  constructor(
    readonly name = 'mem0',
    readonly mtu = 1472,
    readonly maxBatch = 64,
  ) {
    this.batch = new ReusablePacketBatch(Buffer.alloc(maxBatch * mtu), maxBatch);
  }

  onPackets(handler: (batch: PacketBatch) => void): void {
    this.handler = handler;
  }

  /** Delivers packets to the handler in batches of at most maxBatch; oversize packets count as errors. */
  inject(packets: readonly Uint8Array[]): void {
    let i = 0;
    while (i < packets.length && !this.closed) {
      const batch = this.batch;
      batch.count = 0;
      // Scribble over the previous contents so stale views are visibly wrong.
      batch.data.fill(0xee);
      let offset = 0;
      for (; i < packets.length && batch.count < this.maxBatch; i++) {
        const packet = packets[i]!;
        if (packet.length > this.mtu) {
          this.counters.errorsIn++;
          continue;
        }
        batch.data.set(packet, offset);
        batch.offsets[batch.count] = offset;
        batch.lengths[batch.count] = packet.length;
        batch.count++;
        offset += packet.length;
        this.counters.packetsIn++;
        this.counters.bytesIn += packet.length;
      }
      if (batch.count === 0) continue;
      if (!this.handler) {
        this.counters.dropsIn += batch.count;
        continue;
      }
      try {
        this.handler(batch);
      } catch {
        this.counters.handlerErrors++;
      }
    }
  }

  write(packet: Uint8Array): boolean {
    if (this.closed || !this.acceptWrites || packet.length > this.mtu) {
      this.counters.dropsOut++;
      return false;
    }
    this.written.push(Buffer.from(packet));
    this.counters.packetsOut++;
    this.counters.bytesOut += packet.length;
    return true;
  }

  writeBatch(packets: readonly Uint8Array[]): void {
    for (const packet of packets) this.write(packet);
  }

  /** Returns and forgets the packets written so far. */
  takeWritten(): Buffer[] {
    return this.written.splice(0, this.written.length);
  }

  stats(): TunStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
  }
}
