import { describe, expect, it } from 'vitest';
import { packetAddress } from './packet-address.js';

function ipv4(src: number[], dst: number[]): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x45;
  b.set(src, 12);
  b.set(dst, 16);
  return b;
}

function ipv6(src: string, dst: string): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x60;
  b.write(src, 8, 'hex');
  b.write(dst, 24, 'hex');
  return b;
}

describe('packetAddress', () => {
  it.each([
    [ipv4([10, 200, 100, 2], [10, 200, 2, 2]), '10.200.100.2', '10.200.2.2'],
    [
      ipv6('fd000200000000000000000000000002', '20010db8000000010000000000000001'),
      'fd00:200::2',
      '2001:db8:0:1::1',
    ],
    [
      ipv6('00000000000000000000000000000001', '20010db8000100010001000100010001'),
      '::1',
      '2001:db8:1:1:1:1:1:1',
    ],
  ])('reads source and destination', (packet, source, destination) => {
    expect(packetAddress(packet, 'source')).toBe(source);
    expect(packetAddress(packet, 'destination')).toBe(destination);
  });

  it.each([Buffer.alloc(0), Buffer.from([0x45, 0]), Buffer.alloc(30, 0x60), Buffer.alloc(40, 0x10)])(
    'returns undefined for junk',
    (packet) => expect(packetAddress(packet, 'destination')).toBeUndefined(),
  );
});
