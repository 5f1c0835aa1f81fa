import type { DtlsDrop, DtlsEvent } from './dtls-endpoint.js';

/** Why a packet the DTLS transport was given did not go out on DTLS; a fixed set. */
export type DtlsSendFallback = 'too-big' | 'channel-closed';

/** Every label value the DTLS counters take (metric label sets are fixed, DESIGN.md). */
export const dtlsDropReasons: readonly DtlsDrop[] = [
  'malformed',
  'replay',
  'bad-record-mac',
  'unexpected-record',
  'old-epoch',
  'not-client-hello',
  'fragmented-hello',
  'bad-cookie',
  'unknown-session',
  'busy',
  'handshake-failed',
  'handshake-timeout',
  'truncated',
  'internal',
];
export const dtlsEvents: readonly DtlsEvent[] = ['hello-verify', 'handshake-started', 'established'];

/**
 * The DTLS channel's counters of one process: IP packets and bytes it carried each way (the TLS
 * channel's share is the session totals minus these), datagrams dropped by reason, handshake
 * events. Plain numbers bumped on the packet path; the metrics read them at scrape time, a
 * worker sends what moved to the primary (`take`).
 */
export class DtlsStats {
  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Packets handed to the TLS channel instead (larger than the DTLS MTU). */
  toTls = 0;
  /** Sealed datagrams the kernel did not take (socket buffer full). */
  sendFailed = 0;
  /** Pauses of the event loop between send batches of a burst to one client (burst-pacer.ts). */
  burstPauses = 0;
  readonly drops: Record<DtlsDrop, number> = Object.fromEntries(dtlsDropReasons.map((r) => [r, 0])) as Record<
    DtlsDrop,
    number
  >;
  readonly events: Record<DtlsEvent, number> = Object.fromEntries(dtlsEvents.map((e) => [e, 0])) as Record<
    DtlsEvent,
    number
  >;

  /** Adds another process's (or a previous `take`'s) counts. */
  add(o: DtlsCounts): void {
    this.packetsIn += o.packetsIn;
    this.packetsOut += o.packetsOut;
    this.bytesIn += o.bytesIn;
    this.bytesOut += o.bytesOut;
    this.toTls += o.toTls;
    this.sendFailed += o.sendFailed;
    this.burstPauses += o.burstPauses;
    for (const r of dtlsDropReasons) this.drops[r] += o.drops[r] ?? 0;
    for (const e of dtlsEvents) this.events[e] += o.events[e] ?? 0;
  }

  /** The counts since the last `take`, zeroing them (a worker's report to the primary). */
  take(): DtlsCounts {
    const out: DtlsCounts = {
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      toTls: this.toTls,
      sendFailed: this.sendFailed,
      burstPauses: this.burstPauses,
      drops: { ...this.drops },
      events: { ...this.events },
    };
    this.packetsIn =
      this.packetsOut =
      this.bytesIn =
      this.bytesOut =
      this.toTls =
      this.sendFailed =
      this.burstPauses =
        0;
    for (const r of dtlsDropReasons) this.drops[r] = 0;
    for (const e of dtlsEvents) this.events[e] = 0;
    return out;
  }

  /** Whether anything was counted since the last `take`. */
  get moved(): boolean {
    return (
      this.packetsIn + this.packetsOut + this.toTls + this.sendFailed + this.burstPauses > 0 ||
      dtlsDropReasons.some((r) => this.drops[r] > 0) ||
      dtlsEvents.some((e) => this.events[e] > 0)
    );
  }
}

export interface DtlsCounts {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  toTls: number;
  sendFailed: number;
  burstPauses: number;
  drops: Record<string, number>;
  events: Record<string, number>;
}
