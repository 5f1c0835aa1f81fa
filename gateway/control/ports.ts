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
