import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a source address is scored under. IPv4-mapped IPv6 ("::ffff:192.0.2.1", what a dual-stack
 * listener reports for IPv4 clients) is the IPv4 address; other IPv6 addresses count per prefix
 * (default /64), since one host usually owns a whole /64 and could otherwise rotate out of a ban.
 */
export function sourceAddressKey(address: string, ipv6PrefixBits = 64): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address; // not an address (e.g. a unix socket path): its own key
  const groups = expandIpv6(address.replace(/%.*$/, ''));
  const bits = Math.max(0, Math.min(128, ipv6PrefixBits));
  const kept = groups.map((g, i) => {
    const from = i * 16;
    if (from + 16 <= bits) return g;
    if (from >= bits) return 0;
    return g & (0xffff << (16 - (bits - from))) & 0xffff;
  });
  return `${kept.map((g) => g.toString(16)).join(':')}/${bits}`;
}

function expandIpv6(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => Number.parseInt(g, 16));
}
