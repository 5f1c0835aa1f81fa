import { isIPv4, isIPv6 } from 'node:net';

/**
 * CIDR → the forms CSTP headers use. ocserv keeps IPv4 routes as "network/dotted-netmask"
 * ("X-CSTP-Split-Include: 10.200.2.0/255.255.255.0" in the transcript; openconnect turns that
 * into CISCO_SPLIT_INC_0_ADDR/_MASK/_MASKLEN) and IPv6 routes as "address/prefix".
 */
export type ParsedCidr =
  | { family: 4; network: string; netmask: string; prefix: number }
  | { family: 6; cidr: string };

/** Returns undefined for anything that is not a valid IPv4 or IPv6 CIDR. */
export function parseCidr(cidr: string): ParsedCidr | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const address = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (isIPv4(address) && prefix <= 32) {
    const mask = prefixToMask(prefix);
    return {
      family: 4,
      network: intToIpv4((ipv4ToInt(address) & mask) >>> 0),
      netmask: intToIpv4(mask),
      prefix,
    };
  }
  if (isIPv6(address) && prefix <= 128) return { family: 6, cidr: `${address}/${prefix}` };
  return undefined;
}

export function ipv4Netmask(prefix: number): string {
  return intToIpv4(prefixToMask(prefix));
}

function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

function intToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}
