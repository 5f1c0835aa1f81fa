import type { X509Certificate } from 'node:crypto';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';

/**
 * What the TLS adapter needs from authentication; gateway/auth implements these. Each throws
 * OutpostError unauthorized with a client-safe message when it refuses.
 */
export interface GatewayAuthenticators {
  /**
   * Validates the TLS client certificate chain (leaf first, DER); `chain`, when given, is the same
   * chain as Node already parsed it (parsing it again costs ~0.15 ms a certificate per login);
   * `tlsVerifiedAgainst`, when given, the CA certificates (DER) OpenSSL verified the chain
   * against in the handshake (the socket is `authorized`).
   */
  certificate?(
    chainDer: Buffer[],
    remoteAddress: string,
    chain?: X509Certificate[],
    tlsVerifiedAgainst?: readonly Buffer[],
  ): Promise<Identity>;
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
  allocate(
    sessionId: string,
    /** The addresses the session had (resumed from the site): taken when free in this pool. */
    preferred?: { ipv4?: string | undefined; ipv6?: string | undefined },
  ): { ipv4: string; ipv6?: string; worker?: number };
  /** The session ended or dropped: keep its addresses reserved for `keepMs` (0 = free now). */
  release(sessionId: string, keepMs: number): void;
}

/**
 * The sessions of a site (gateway/site/site-sessions.ts, `state.backend: postgres`): a cookie
 * this node does not know may be resumed from the shared state, and the shared state follows each
 * session's tunnel. Absent on a node of its own.
 */
export interface SessionSite {
  /** The session a cookie unknown here names, taken over by this node; undefined: unknown. */
  resume(cookie: string, remoteAddress: string): Promise<Session | undefined>;
  connected(session: Session): void;
  disconnected(session: Session): void;
  closed(session: Session, reason: string): void;
}
