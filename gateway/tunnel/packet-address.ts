/**
 * Reads the destination or source address of an IP packet as text, without copying: the TUN
 * reader needs the destination to find the session, the tunnel checks the source against the
 * address it assigned (a client may not spoof another's). Returns undefined for anything that is
 * not a plausible IPv4/IPv6 header.
 */
export function packetAddress(packet: Buffer, which: 'source' | 'destination'): string | undefined {
  const version = packet.length > 0 ? packet[0]! >> 4 : 0;
  if (version === 4 && packet.length >= 20) {
    const at = which === 'source' ? 12 : 16;
    return `${packet[at]}.${packet[at + 1]}.${packet[at + 2]}.${packet[at + 3]}`;
  }
  if (version === 6 && packet.length >= 40) {
    const at = which === 'source' ? 8 : 24;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(packet.readUInt16BE(at + i).toString(16));
    return compressIpv6(groups);
  }
  return undefined;
}

/** RFC 5952 text form: lower case, longest run of zero groups (2+) as "::". */
function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}
