/**
 * Why a gateway tells its load balancer not to send it new clients; a fixed set (also the body
 * of `GET /healthz/gateway`, which an unauthenticated prober reads).
 */
export type UnhealthyReason = 'draining' | 'tun-down' | 'workers-down' | 'pool-exhausted' | 'session-ceiling';

export interface GatewayHealthInput {
  draining: boolean;
  /** Every TUN device of the gateway (one per tunnel worker) exists. */
  tunUp: boolean;
  workers: { running: number; configured: number };
  sessions: number;
  /** `gateway.limits.healthySessions`: at or above it the node takes no new clients. */
  healthySessions: number;
  /** Every pool (the gateway's and the groups' own): addresses left to hand out. */
  pools: ReadonlyArray<{ cidr: string; capacity: number; active: number }>;
}

export interface GatewayHealth {
  healthy: boolean;
  reasons: UnhealthyReason[];
  drain: boolean;
  sessions: number;
  healthySessions: number;
  /** The fewest addresses any pool has left (reserved ones count: they are reclaimed when needed). */
  poolAddressesLeft: number;
}

/**
 * The gateway's answer to a load balancer's health check (Microsoft Tunnel turns a server
 * "unhealthy" above 4,990 connections; HAProxy's `option httpchk` takes a 503 as down). Pure and
 * cheap: it reads counters only, so a check every few hundred milliseconds costs nothing.
 */
export function gatewayHealth(input: GatewayHealthInput): GatewayHealth {
  const reasons: UnhealthyReason[] = [];
  if (input.draining) reasons.push('draining');
  if (!input.tunUp) reasons.push('tun-down');
  if (input.workers.running < input.workers.configured) reasons.push('workers-down');
  const left = input.pools.map((p) => Math.max(0, p.capacity - p.active));
  if (left.some((n) => n === 0)) reasons.push('pool-exhausted');
  if (input.sessions >= input.healthySessions) reasons.push('session-ceiling');
  return {
    healthy: reasons.length === 0,
    reasons,
    drain: input.draining,
    sessions: input.sessions,
    healthySessions: input.healthySessions,
    poolAddressesLeft: left.length > 0 ? Math.min(...left) : 0,
  };
}
