import type { RecordLayerKind } from './transport.js';

/**
 * Why a packet was dropped (the `reason` label of outpost_gateway_dropped_packets_total): a fixed
 * set. `internal` is a fault in Outpost's own packet path, caught where it happened: that packet
 * is lost, the tunnel and the process carry on.
 */
export const dropReasons = ['spoofed', 'malformed', 'backpressure', 'tun-full', 'internal'] as const;
export type DropReason = (typeof dropReasons)[number];

/**
 * Which channel a dropped packet came in on or was going out on (the `channel` label): the TLS
 * connection or the DTLS data channel beside it. Faults not tied to one count as `tls`.
 */
export const channels = ['tls', 'dtls'] as const;
export type Channel = (typeof channels)[number];

/**
 * Why a connection failed at the record level (the transport closes it), for the drop counters.
 * The TLS record transport reports these; a datagram transport reports the same kinds.
 */
export type TlsFailure = 'bad-record-mac' | 'record-error' | 'peer-alert';

export interface TunnelCounters {
  /** `count` packets (default 1) dropped for `reason`, on `channel` (default tls). */
  dropped(reason: DropReason, count?: number, channel?: Channel): void;
  /** Tunnels started (default 1), on Outpost's record layer or on OpenSSL's. */
  tunnelOpened?(recordLayer: RecordLayerKind, count?: number): void;
  /** Taken-over connections that failed at the TLS record level (they are closed). */
  tlsFailure?(kind: TlsFailure, count?: number): void;
}
