/**
 * Layout of the single-producer/single-consumer ring through which the reader worker hands packets
 * to the main thread. Everything lives in one SharedArrayBuffer: a control block, one length per
 * slot, then fixed-size slots the worker reads packets straight into (no copy on either side).
 *
 * Sequence numbers are free-running int32 (wrapping); slot = seq & (slots - 1). The worker owns
 * WRITE_SEQ and the counters, the main thread owns READ_SEQ; a slot is the worker's again once the
 * main thread has moved READ_SEQ past it, which it does only after the batch callback returned.
 */
export const Control = {
  WRITE_SEQ: 0,
  READ_SEQ: 1,
  /** Set to 1 by the main thread to make the worker exit. */
  STOP: 2,
  /** Packets read and discarded because the ring was full. */
  DROPPED_FULL: 3,
  /** Packets longer than a slot allows (the MTU), or failed reads. */
  READ_ERRORS: 4,
  /** errno of the read/poll failure that ended the worker, 0 when it stopped normally. */
  FATAL_ERRNO: 5,
} as const;
export const CONTROL_INTS = 8;

export interface PacketRingLayout {
  readonly slots: number;
  readonly slotSize: number;
  readonly lengthsOffset: number;
  readonly dataOffset: number;
  readonly byteLength: number;
}

export function ringLayout(slots: number, mtu: number): PacketRingLayout {
  if (!Number.isInteger(Math.log2(slots)))
    throw new RangeError(`ring slots must be a power of two, got ${slots}`);
  // One byte more than the MTU so an oversize packet shows up as a read longer than the MTU.
  const slotSize = (mtu + 1 + 63) & ~63;
  const lengthsOffset = CONTROL_INTS * 4;
  const dataOffset = (lengthsOffset + slots * 4 + 63) & ~63;
  return { slots, slotSize, lengthsOffset, dataOffset, byteLength: dataOffset + slots * slotSize };
}
