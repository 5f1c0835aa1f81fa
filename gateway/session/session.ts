import type { ServerDisconnectReason } from '../cstp/index.js';
import type { Identity } from './identity.js';

export type SessionState = 'authenticated' | 'connected' | 'disconnected' | 'closed';

/** One VPN session: from a successful authentication until it ends or its cookie expires. */
export interface Session {
  readonly id: string;
  readonly identity: Identity;
  readonly remoteAddress: string;
  /** SHA-256 of the webvpn cookie: the cookie itself is never kept. */
  readonly cookieHash: string;
  readonly createdAt: number;
  state: SessionState;
  /** Assigned at the first CONNECT; kept across reconnects within the cookie timeout. */
  ipv4?: string;
  ipv6?: string;
  /**
   * Its addresses belong to another node's pool block (a session resumed from the site's shared
   * state after its node went away): routed into this node's TUN as host routes (gateway/site).
   */
  foreignBlock?: boolean;
  /** The tunnel worker process carrying (or last carrying) its tunnel, with gateway.workers > 1. */
  worker?: number;
  /** When a disconnected session's cookie stops being accepted. */
  cookieExpiresAt?: number;
  lastActivity: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /**
   * Ends the live tunnel, if any (set by the tunnel while connected); the client is told why
   * (a DISCONNECT with the reason's text, gateway/cstp/disconnect.ts).
   */
  disconnect?: (reason: ServerDisconnectReason) => void;
}
