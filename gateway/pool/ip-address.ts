/**
 * Minimal IPv4/IPv6 text <-> integer conversions for the address pools. Pure; no dependency, so the
 * pools work wherever the data plane runs. IPv4 and IPv6 both use bigint so one pool class serves
 * both families; allocation is not on the packet path.
 */
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export type IpFamily = 4 | 6;

export interface IpAddressValue {
  readonly family: IpFamily;
  readonly value: bigint;
}

const IPV4_PART = /^(?:0|[1-9]\d{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function invalid(text: string, what: string): OutpostError {
  return new OutpostError(ErrorCodes.config, `invalid ${what}`, { detail: JSON.stringify(text) });
}

/** Returns undefined unless `text` is a dotted-quad IPv4 address (no leading zeros, as Node's net.isIPv4). */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!IPV4_PART.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** Returns undefined unless `text` is an IPv6 address (with `::` and an optional trailing dotted quad). */
export function parseIPv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const doubleColon = text.indexOf('::');
  if (doubleColon !== -1 && text.indexOf('::', doubleColon + 1) !== -1) return undefined;
  const head = doubleColon === -1 ? text : text.slice(0, doubleColon);
  const tail = doubleColon === -1 ? '' : text.slice(doubleColon + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups: number[] = [];
  const all = [...headGroups, ...tailGroups];
  const last = all[all.length - 1];
  // An embedded IPv4 address (::ffff:1.2.3.4) stands for the last two groups.
  let embedded: bigint | undefined;
  if (last?.includes('.')) {
    embedded = parseIPv4(last);
    if (embedded === undefined) return undefined;
    if (tailGroups.length > 0) tailGroups.pop();
    else headGroups.pop();
  }
  for (const g of [...headGroups, ...tailGroups]) if (!IPV6_GROUP.test(g)) return undefined;
  const explicit = headGroups.length + tailGroups.length + (embedded === undefined ? 0 : 2);
  if (doubleColon === -1 ? explicit !== 8 : explicit > 7) return undefined;
  for (const g of headGroups) groups.push(Number.parseInt(g, 16));
  for (let i = explicit; i < 8; i++) groups.push(0);
  for (const g of tailGroups) groups.push(Number.parseInt(g, 16));
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (embedded !== undefined) value = (value << 32n) | embedded;
  return value;
}

export function parseIpAddress(text: string): IpAddressValue | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function formatIPv4(value: bigint): string {
  const n = Number(value & 0xffffffffn);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function formatIp(family: IpFamily, value: bigint): string {
  return family === 4 ? formatIPv4(value) : formatIPv6(value);
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address (host bits zero). */
  readonly network: bigint;
  readonly prefixLength: number;
  /** Number of addresses in the block, 2^(bits - prefix). */
  readonly size: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Parses `a.b.c.d/n` or `x::/n`; rejects host bits so a typo (10.0.0.5/24) is not silently widened. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  if (slash === -1) throw invalid(text, 'CIDR (expected address/prefix)');
  const address = parseIpAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^\d{1,3}$/.test(prefixText)) throw invalid(text, 'CIDR');
  const bits = familyBits(address.family);
  const prefixLength = Number(prefixText);
  if (prefixLength > bits) throw invalid(text, 'CIDR prefix length');
  const size = 1n << BigInt(bits - prefixLength);
  if ((address.value & (size - 1n)) !== 0n) {
    const network = formatIp(address.family, address.value & ~(size - 1n));
    throw new OutpostError(ErrorCodes.config, 'CIDR has host bits set', {
      detail: `${text} (did you mean ${network}/${prefixLength}?)`,
    });
  }
  return { family: address.family, network: address.value, prefixLength, size };
}
