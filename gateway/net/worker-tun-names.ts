/**
 * The TUN of tunnel worker `worker` (gateway.workers > 1): `<base>w<i>`, e.g. outpost0w3. Linux
 * interface names hold at most 15 characters (IFNAMSIZ - 1); the config schema checks the longest.
 */
export function workerTunName(base: string, worker: number): string {
  return `${base}w${worker}`;
}

/** Every worker's TUN as one nftables interface wildcard (`outpost0w*`), for the NAT rule. */
export function workerTunPattern(base: string): string {
  return `${base}w*`;
}
