import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddress } from './ip-address.js';
import { sliceCidr, WorkerAddressSlices } from './worker-slices.js';

describe('sliceCidr', () => {
  it.each([
    ['10.100.0.0/16', 1, [['10.100.0.0/16']]],
    ['10.100.0.0/16', 2, [['10.100.0.0/17'], ['10.100.128.0/17']]],
    ['10.100.0.0/16', 3, [['10.100.0.0/18', '10.100.192.0/18'], ['10.100.64.0/18'], ['10.100.128.0/18']]],
    [
      'fd00:200::/112',
      4,
      [['fd00:200::/114'], ['fd00:200::4000/114'], ['fd00:200::8000/114'], ['fd00:200::c000/114']],
    ],
  ])('%s into %i workers', (cidr, workers, expected) => {
    expect(sliceCidr(cidr, workers)).toEqual(expected);
  });

  it('refuses a pool too small for the workers', () => {
    expect(() => sliceCidr('10.0.0.0/29', 4)).toThrow(/too small/);
    expect(() => sliceCidr('10.0.0.0/28', 4)).not.toThrow();
  });
});

describe('WorkerAddressSlices', () => {
  it('keeps a session on its worker and addresses across a reconnect', () => {
    const slices = new WorkerAddressSlices({ ipv4: '10.100.0.0/24', ipv6: 'fd00::/120' }, 2);
    const first = slices.allocate('a');
    slices.release('a', 60_000);
    for (let i = 0; i < 10; i++) slices.allocate(`other-${i}`);
    expect(slices.allocate('a')).toEqual(first);
  });

  it("keeps the whole pool's gateway addresses", () => {
    const slices = new WorkerAddressSlices({ ipv4: '10.100.0.0/16', ipv6: 'fd00:200::/112' }, 4);
    expect(slices.gatewayAddresses).toEqual({ ipv4: '10.100.0.1', ipv6: 'fd00:200::1' });
  });

  it('spreads new sessions evenly and routes every address to its worker', () => {
    const workers = 4;
    const slices = new WorkerAddressSlices({ ipv4: '10.100.0.0/16', ipv6: 'fd00:200::/112' }, workers);
    const counts = new Array<number>(workers).fill(0);
    for (let i = 0; i < 4000; i++) {
      const lease = slices.allocate(`s${i}`);
      counts[lease.worker]!++;
      const routes = slices.routesOf(lease.worker);
      expect(routes.ipv4.some((cidr) => within(lease.ipv4, cidr))).toBe(true);
      expect(routes.ipv6.some((cidr) => within(lease.ipv6!, cidr))).toBe(true);
    }
    expect(counts).toEqual([1000, 1000, 1000, 1000]);
  });

  it('fills the whole pool but three addresses per extra block', () => {
    const slices = new WorkerAddressSlices({ ipv4: '10.100.0.0/26' }, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 64 - 3 - 3; i++) seen.add(slices.allocate(`s${i}`).ipv4);
    expect(seen.size).toBe(58);
    expect(() => slices.allocate('one-too-many')).toThrow(/no address available/);
  });

  it('never gives one address twice (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean()), { maxLength: 200 }),
        (workers, steps) => {
          const slices = new WorkerAddressSlices({ ipv4: '10.1.0.0/22' }, workers);
          const held = new Map<string, string>();
          for (const [n, release] of steps) {
            const key = `k${n}`;
            if (release) {
              slices.release(key, 0);
              held.delete(key);
            } else held.set(key, slices.allocate(key).ipv4);
          }
          expect(new Set(held.values()).size).toBe(held.size);
        },
      ),
    );
  });
});

function within(address: string, cidr: string): boolean {
  const [network, length] = cidr.split('/');
  const a = parseIpAddress(address)!;
  const n = parseIpAddress(network!)!;
  const host = BigInt((a.family === 4 ? 32 : 128) - Number(length));
  return a.family === n.family && a.value >> host === n.value >> host;
}
