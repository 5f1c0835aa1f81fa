/**
 * Layout of the single-producer/single-consumer byte rings between the main thread and the TUN
 * worker threads (reader: worker produces, main consumes; writer: the other way round). One
 * SharedArrayBuffer each: a control block, then `capacity` bytes of entries. An entry starts at an
 * 8-byte aligned offset: int32 length, 4 bytes of padding, the bytes (an IP packet, after a
 * virtio-net header when the TUN has IFF_VNET_HDR). A length of -1 marks the rest of the ring
 * unused: the next entry is at offset 0. Entries are variable-sized, so one ring takes ordinary
 * packets and 64 KiB GSO packets alike.
 *
 * Positions are free-running int32 byte counters (wrapping); offset = position & (capacity - 1).
 * The producer owns WRITE_POS, the consumer READ_POS; the bytes behind READ_POS are the
 * producer's again, which the consumer only allows once it is done with them.
 */
export const Control = {
  WRITE_POS: 0,
  READ_POS: 1,
  /** Set to 1 by the main thread to make the worker exit. */
  STOP: 2,
  /** Reader: packets read and discarded because the ring was full. Writer: failed writes. */
  DROPPED_FULL: 3,
  /** Reader: oversized or malformed reads. */
  READ_ERRORS: 4,
  /** Reader: errno of the read/poll failure that ended the worker, 0 when it stopped normally. */
  FATAL_ERRNO: 5,
} as const;
export const CONTROL_INTS = 8;
export const DATA_OFFSET = 64;

export const ENTRY_HEADER = 8;
export const WRAP = -1;

export function align8(n: number): number {
  return (n + 7) & ~7;
}

export function checkCapacity(capacity: number, largestEntry: number): void {
  if (!Number.isInteger(Math.log2(capacity)) || capacity < 4 * (ENTRY_HEADER + align8(largestEntry))) {
    throw new RangeError(
      `ring capacity must be a power of two of at least four entries of ${largestEntry} bytes, got ${capacity}`,
    );
  }
}
