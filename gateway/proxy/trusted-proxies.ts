import ipaddr from 'ipaddr.js';

/**
 * The addresses allowed to speak for a client with a PROXY header (`gateway.trustedProxies`).
 * IPv4-mapped IPv6 peers ("::ffff:192.0.2.1", what a dual-stack listener reports) match IPv4 ranges.
 */
export class TrustedProxies {
  private readonly ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

  /** Throws RangeError on a CIDR ipaddr.js cannot parse; the config schema checks them first. */
  constructor(cidrs: readonly string[]) {
    this.ranges = cidrs.map((cidr) => {
      try {
        return ipaddr.parseCIDR(
          cidr.includes('/') ? cidr : `${cidr}/${ipaddr.parse(cidr).kind() === 'ipv4' ? 32 : 128}`,
        );
      } catch (cause) {
        throw new RangeError(`not an address range: ${cidr}`, { cause });
      }
    });
  }

  get size(): number {
    return this.ranges.length;
  }

  contains(address: string | undefined): boolean {
    if (!address || !ipaddr.isValid(address)) return false;
    const parsed = ipaddr.process(address); // unwraps IPv4-mapped IPv6
    return this.ranges.some(([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits));
  }
}
