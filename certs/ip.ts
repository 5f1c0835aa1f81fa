import { isIPv4, isIPv6 } from 'node:net';
import { DecodeError } from '../core/errors.js';

/** Text → the 4 or 16 octets of a SAN iPAddress (RFC 5280 §4.2.1.6). */
export function ipToBytes(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!isIPv6(text)) throw new DecodeError(`not an IP address: ${text}`);
  return ipv6ToBytes(text);
}

function ipv6ToBytes(text: string): Buffer {
  let s = text;
  const tail: number[] = [];
  const v4 = s.match(/:(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    s = `${s.slice(0, -v4[1]!.length)}0`; // placeholder group, replaced below
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  if (v4) (right.length > 0 ? right : left).pop();
  const groups =
    rest === undefined
      ? [...left, ...tail]
      : [...left, ...new Array(8 - left.length - right.length - tail.length).fill(0), ...right, ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(g, i * 2);
  });
  return out;
}

/** SAN iPAddress octets → text; IPv6 in RFC 5952 §4 canonical form. Throws on other lengths. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new DecodeError(`iPAddress of ${bytes.length} octets`);
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  const [start, len] = longestZeroRun(groups);
  if (len < 2) return groups.join(':');
  return `${groups.slice(0, start).join(':')}::${groups.slice(start + len).join(':')}`;
}

function longestZeroRun(groups: string[]): [number, number] {
  let best: [number, number] = [-1, 0];
  let i = 0;
  while (i < groups.length) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best[1]) best = [i, j - i];
    i = j;
  }
  return best;
}
