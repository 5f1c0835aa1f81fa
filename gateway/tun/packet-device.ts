import type { PacketBatch } from './packet-batch.js';

/** Counters of one TUN device since it was opened. "In" = read from the kernel, "out" = written to it. */
export interface TunStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Packets read but discarded because the consumer fell behind (the hand-over ring was full). */
  dropsIn: number;
  /** Packets the kernel did not take (write failed or short) or that were larger than the MTU. */
  dropsOut: number;
  /** Packets read that were larger than the MTU (truncated by the read buffer) or read errors. */
  errorsIn: number;
  /** Exceptions thrown by the onPackets handler (caught: the packet path never throws). */
  handlerErrors: number;
  /** Faults caught in the device's own write path outside any caller (their packets dropped). */
  faults: number;
}

/** A fault caught on a device's packet path; `packets` were dropped because of it. */
export type TunFaultHandler = (error: unknown, packets: number) => void;

export function emptyTunStats(): TunStats {
  return {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    dropsIn: 0,
    dropsOut: 0,
    errorsIn: 0,
    handlerErrors: 0,
    faults: 0,
  };
}

/**
 * The gateway's one packet device (a TUN: LinuxTunDevice; in tests MemoryTunDevice), as the
 * tunnels see it (gateway/tunnel/local-tunnels.ts reads batches from it, the inbound path writes
 * into it) and as the wiring opens and closes it. Carries raw IP packets (no packet-information
 * header). Nothing here throws on the packet path: failures are counted.
 */
export interface PacketDevice {
  readonly name: string;
  readonly mtu: number;
  /** Sets the (single) receiver of packets read from the device; replaces any previous one. */
  onPackets(handler: (batch: PacketBatch) => void): void;
  /**
   * Sets the receiver of faults the device catches on its own packet path (a handler that threw,
   * a merge finished after its caller returned), so they reach the drop counters and the log.
   */
  onFault?(handler: TunFaultHandler): void;
  /** Hands one IP packet to the kernel; false when it was dropped (counted in stats). */
  write(packet: Uint8Array): boolean;
  /**
   * Like write, for the packet `source[offset, offset + length)` whose buffer starts at native
   * address `address` (the data path copies with memcpy instead of making a view). The bytes
   * are copied before it returns.
   */
  writeFrom?(source: Uint8Array, offset: number, length: number, address: number): boolean;
  writeBatch?(packets: readonly Uint8Array[]): void;
  stats(): TunStats;
  /** Stops reading and releases the device; idempotent. */
  close(): Promise<void>;
}
