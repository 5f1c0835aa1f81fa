import type { Libc } from './libc.js';
import {
  continuesMerge,
  finishMerge,
  MAX_MERGED_LENGTH,
  mergeableSegment,
  plainVnetHeader,
  type TcpSegment,
  VNET_HEADER_LENGTH,
} from './tcp-coalesce.js';
import type { Reservation, TunWriterRing } from './tun-writer-ring.js';

/** Segments merged at most (the kernel's GRO stops at 64 too, MAX_GRO_SKBS). */
const maxSegments = 64;

interface OpenMerge {
  readonly reservation: Reservation;
  readonly first: TcpSegment;
  nextSeq: number;
  payload: number;
  segments: number;
  lastPush: boolean;
}

/**
 * Writes packets into a TUN opened with IFF_VNET_HDR, merging runs of TCP segments of one flow
 * (tcp-coalesce.ts) into one GSO packet. A merge is built in place in a ring entry reserved for
 * 64 KiB: the first segment whole, then each further payload appended. It is finished when a
 * packet does not continue it, on PSH, a short segment, the size limit, or at the end of the
 * current task (a microtask): packets that arrive together from one socket read merge, and
 * nothing waits for more.
 */
export class TunGro {
  private open: OpenMerge | undefined;
  private finishScheduled = false;
  /** Segments that went out merged into fewer packets, and merged packets written. */
  merged = 0;
  mergedPackets = 0;

  constructor(
    private readonly ring: TunWriterRing,
    private readonly c: Libc,
    /** A fault in a merge finished outside any caller (the end-of-task microtask): it is dropped. */
    private readonly onFault: (error: unknown) => void = () => undefined,
  ) {}

  /**
   * Queues one packet (`source[offset, offset + length)`, at `address` + offset); false when the
   * ring is full. A fault abandons the open merge (the ring stays usable) and is thrown to the
   * caller, which drops that packet.
   */
  write(source: Uint8Array, offset: number, length: number, address: number): boolean {
    try {
      return this.queue(source, offset, length, address);
    } catch (e) {
      this.abandon();
      throw e;
    }
  }

  private queue(source: Uint8Array, offset: number, length: number, address: number): boolean {
    const segment = mergeableSegment(source, offset, length);
    const open = this.open;
    if (open) {
      const head = open.reservation.offset + VNET_HEADER_LENGTH;
      if (
        segment &&
        open.segments < maxSegments &&
        20 + open.first.tcpHeaderLength + open.payload + segment.payloadLength <= MAX_MERGED_LENGTH &&
        continuesMerge(this.ring.data, head, open.first, open.nextSeq, source, offset, segment)
      ) {
        const headers = 20 + segment.tcpHeaderLength;
        this.c.memcpy(
          open.reservation.address + VNET_HEADER_LENGTH + headers + open.payload,
          address + offset + headers,
          segment.payloadLength,
        );
        open.payload += segment.payloadLength;
        open.nextSeq = (open.nextSeq + segment.payloadLength) >>> 0;
        open.segments++;
        open.lastPush = segment.push;
        if (segment.push || segment.payloadLength < open.first.payloadLength) this.finish();
        return true;
      }
      this.finish();
    }
    if (!segment) return this.ring.enqueueFrom(address + offset, length, VNET_HEADER_LENGTH);
    const reservation = this.ring.reserve(VNET_HEADER_LENGTH + MAX_MERGED_LENGTH);
    if (!reservation) return false;
    this.c.memcpy(reservation.address + VNET_HEADER_LENGTH, address + offset, length);
    this.open = {
      reservation,
      first: segment,
      nextSeq: (segment.seq + segment.payloadLength) >>> 0,
      payload: segment.payloadLength,
      segments: 1,
      lastPush: segment.push,
    };
    if (segment.push) this.finish();
    else if (!this.finishScheduled) {
      this.finishScheduled = true;
      queueMicrotask(this.finishLater);
    }
    return true;
  }

  /** Publishes the open merge: a plain packet when it holds one segment, else a GSO packet. */
  finish(): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    const data = this.ring.data;
    const at = open.reservation.offset + VNET_HEADER_LENGTH;
    const headers = 20 + open.first.tcpHeaderLength;
    if (open.segments === 1) {
      plainVnetHeader(data, open.reservation.offset);
      this.ring.commit(VNET_HEADER_LENGTH + headers + open.payload);
      return;
    }
    const total = finishMerge(data, at, open.first, open.payload, open.lastPush);
    this.ring.commit(VNET_HEADER_LENGTH + total);
    this.merged += open.segments;
    this.mergedPackets++;
  }

  private readonly finishLater = (): void => {
    this.finishScheduled = false;
    // Nothing is on the stack to catch for us here: a throw would be an uncaught exception.
    try {
      this.finish();
    } catch (e) {
      this.abandon();
      this.onFault(e);
    }
  };

  /** Forgets the open merge and its reservation: its segments are lost, the ring stays consistent. */
  private abandon(): void {
    this.open = undefined;
    this.ring.cancel();
  }
}
