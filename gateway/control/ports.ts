import type { Identity } from '../session/identity.js';

/**
 * What the TLS adapter needs from authentication; gateway/auth implements these. Each throws
 * OutpostError unauthorized with a client-safe message when it refuses.
 */
export interface GatewayAuthenticators {
  /** Validates the TLS client certificate chain (leaf first, DER). */
  certificate?(chainDer: Buffer[], remoteAddress: string): Promise<Identity>;
  password?(username: string, password: string, remoteAddress: string): Promise<Identity>;
  /** Verifies a bearer token (openconnect --token-mode=oidc sends `Authorization: Bearer …`). */
  token?(token: string, remoteAddress: string): Promise<Identity>;
}

/** ocserv-style ban points per source address. */
export interface BanList {
  isBanned(remoteAddress: string): boolean;
  /** Adds points for a failure kind (wrong password, bad token, bad frames, …). */
  penalize(remoteAddress: string, kind: 'auth' | 'protocol'): void;
}

/** Tunnel addresses for a session; a reconnect within the cookie timeout gets the same ones. */
export interface AddressAllocator {
  /** `worker`: the tunnel worker whose TUN routes these addresses (gateway.workers > 1). */
  allocate(sessionId: string): { ipv4: string; ipv6?: string; worker?: number };
  /** The session ended or dropped: keep its addresses reserved for `keepMs` (0 = free now). */
  release(sessionId: string, keepMs: number): void;
}

/**
 * Packets read from the device, valid only during the handler call: packet i is
 * `data[offsets[i], offsets[i] + lengths[i])`.
 */
export interface PacketBatchView {
  readonly count: number;
  readonly data: Buffer;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  /** Address of `data` in native memory, when known (lets the data path copy without views). */
  readonly address?: number;
}

/** The gateway's side of the TUN device, as the tunnel needs it. */
export interface PacketDevice {
  /** Writes one IP packet; false when the device could not take it. */
  write(packet: Buffer): boolean;
  /**
   * Writes `source[offset, offset + length)`, `address` being source's native address (copied
   * before it returns); false when not taken.
   */
  writeFrom?(source: Buffer, offset: number, length: number, address: number): boolean;
  /** Registers the handler for batches of packets read from the device (it must not keep them). */
  onPackets(handler: (batch: PacketBatchView) => void): void;
  /** Registers the receiver of faults the device caught on its own packet path (packets dropped). */
  onFault?(handler: (error: unknown, packets: number) => void): void;
}
