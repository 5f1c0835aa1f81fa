import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressPool } from './address-pool.js';

describe('AddressPool layout', () => {
  it.each([
    ['10.200.100.0/24', '10.200.100.1', 253, '10.200.100.2'],
    ['10.0.0.0/30', '10.0.0.1', 1, '10.0.0.2'],
    ['10.0.0.0/31', '10.0.0.0', 1, '10.0.0.1'],
    ['10.10.0.0/16', '10.10.0.1', 65533, '10.10.0.2'],
    ['fd00:200::/112', 'fd00:200::1', 65534, 'fd00:200::2'],
    ['fd00::/127', 'fd00::1', 0, undefined],
  ])('%s: gateway %s, %i clients, first %s', (cidr, gateway, capacity, first) => {
    if (capacity === 0) {
      expect(() => new AddressPool(cidr)).toThrow(/too small/);
      return;
    }
    const pool = new AddressPool(cidr);
    expect(pool.gatewayAddress).toBe(gateway);
    expect(pool.capacity).toBe(capacity);
    expect(pool.allocate('a').address).toBe(first);
  });

  it('rejects /32 and host bits', () => {
    expect(() => new AddressPool('10.0.0.1/32')).toThrow(/too small/);
    expect(() => new AddressPool('10.0.0.1/24')).toThrow(/host bits/);
  });

  it('caps huge IPv6 blocks at maxClients', () => {
    const pool = new AddressPool('fd00:1::/64', { maxClients: 1000 });
    expect(pool.capacity).toBe(1000);
    expect(pool.gatewayAddress).toBe('fd00:1::1');
  });

  it('contains() covers the whole block, same family only', () => {
    const pool = new AddressPool('10.1.2.0/24');
    expect(pool.contains('10.1.2.0')).toBe(true);
    expect(pool.contains('10.1.2.255')).toBe(true);
    expect(pool.contains('10.1.3.0')).toBe(false);
    expect(pool.contains('::1')).toBe(false);
  });
});

describe('AddressPool leases', () => {
  it('gives the same key the same address while its lease lives', () => {
    const pool = new AddressPool('10.0.0.0/29', { now: () => 0 });
    const a = pool.allocate('alice').address;
    expect(pool.allocate('alice').address).toBe(a);
    pool.release('alice', { keepForMs: 300_000, now: 1000 });
    expect(pool.lease('alice')).toMatchObject({ state: 'reserved', expiresAt: 301_000 });
    expect(pool.allocate('bob').address).not.toBe(a);
    expect(pool.allocate('alice')).toMatchObject({ address: a, state: 'active' });
    expect(pool.stats()).toEqual({ capacity: 5, active: 2, reserved: 0, free: 3 });
  });

  it('frees reservations at expiry, not before, and reuses the oldest freed address last', () => {
    const pool = new AddressPool('10.0.0.0/24');
    const a = pool.allocate('a').address;
    const b = pool.allocate('b').address;
    pool.release('a', { keepForMs: 100, now: 0 });
    pool.release('b', { keepForMs: 50, now: 0 });
    expect(pool.expire(49)).toBe(0);
    expect(pool.expire(50)).toBe(1);
    expect(pool.ownerOf(b)).toBeUndefined();
    expect(pool.ownerOf(a)).toBe('a');
    expect(pool.expire(100)).toBe(1);
    // Never-used addresses come before recently released ones.
    expect(pool.allocate('c').address).toBe('10.0.0.4');
  });

  it('a re-activated then re-released lease is not freed by its old expiry', () => {
    const pool = new AddressPool('10.0.0.0/24');
    pool.allocate('a');
    pool.release('a', { keepForMs: 10, now: 0 });
    pool.allocate('a');
    pool.release('a', { keepForMs: 1000, now: 5 });
    expect(pool.expire(500)).toBe(0);
    expect(pool.lease('a')?.state).toBe('reserved');
  });

  it('release with keepForMs 0 frees at once; unknown keys are ignored', () => {
    const pool = new AddressPool('10.0.0.0/30');
    pool.allocate('a');
    pool.release('a', { keepForMs: 0 });
    pool.release('nobody', { keepForMs: 10 });
    expect(pool.allocate('b').address).toBe('10.0.0.2');
  });

  it('honours a preferred address when it is a free client address', () => {
    const pool = new AddressPool('fd00:200::/112');
    expect(pool.allocate('a', { preferred: 'fd00:200::a' }).address).toBe('fd00:200::a');
    expect(pool.allocate('b', { preferred: 'fd00:200::a' }).address).toBe('fd00:200::2');
    expect(pool.allocate('c', { preferred: 'fd00:200::1' }).address).toBe('fd00:200::3'); // gateway
    expect(pool.allocate('d', { preferred: '10.0.0.1' }).address).toBe('fd00:200::4');
    expect(pool.allocate('e', { preferred: 'fd00:300::9' }).address).toBe('fd00:200::5');
  });

  it('reclaims the reservation closest to expiry when full, then reports busy', () => {
    const pool = new AddressPool('10.0.0.0/29'); // 5 clients
    for (const k of ['a', 'b', 'c', 'd', 'e']) pool.allocate(k);
    pool.release('b', { keepForMs: 500, now: 0 });
    pool.release('d', { keepForMs: 100, now: 0 });
    const d = pool.lease('d')!.address;
    expect(pool.allocate('f').address).toBe(d);
    expect(pool.lease('d')).toBeUndefined();
    pool.allocate('g');
    expect(() => pool.allocate('h')).toThrow(expect.objectContaining({ code: 'OUTPOST_ERR_BUSY' }));
  });

  it('allocates a whole /16 without scanning from the start each time', () => {
    const pool = new AddressPool('10.20.0.0/16');
    const started = performance.now();
    for (let i = 0; i < pool.capacity; i++) pool.allocate(`k${i}`);
    for (let i = 0; i < pool.capacity; i += 2) pool.release(`k${i}`, { keepForMs: 0 });
    for (let i = 0; i < pool.capacity; i += 2) pool.allocate(`n${i}`);
    expect(pool.stats().free).toBe(0);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

type Op =
  | { kind: 'allocate'; key: number; preferred: number | undefined }
  | { kind: 'release'; key: number; keepForMs: number }
  | { kind: 'expire'; advance: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('allocate' as const),
    key: fc.nat(40),
    preferred: fc.option(fc.nat(70), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant('release' as const), key: fc.nat(40), keepForMs: fc.constantFrom(0, 5, 50) }),
  fc.record({ kind: fc.constant('expire' as const), advance: fc.nat(60) }),
);

describe('AddressPool properties', () => {
  for (const cidr of ['10.9.8.0/27', 'fd00:200::/122']) {
    it(`${cidr}: never hands out an address twice, nor network, broadcast or gateway`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
          const pool = new AddressPool(cidr);
          const v4 = cidr.includes('.');
          const base = v4 ? '10.9.8.' : 'fd00:200::';
          const format = (n: number) => (v4 ? `${base}${n}` : `${base}${n.toString(16)}`);
          const forbidden = new Set(v4 ? [format(0), format(31), format(1)] : [format(0), format(1)]);
          let now = 0;
          const held = new Map<number, string>(); // key -> address, active or reserved
          for (const op of ops) {
            if (op.kind === 'expire') {
              now += op.advance;
              pool.expire(now);
              for (const key of [...held.keys()]) if (!pool.lease(`k${key}`)) held.delete(key);
            } else if (op.kind === 'release') {
              pool.release(`k${op.key}`, { keepForMs: op.keepForMs, now });
              if (op.keepForMs === 0) held.delete(op.key);
            } else {
              const before = held.get(op.key);
              let address: string;
              try {
                const preferred = op.preferred === undefined ? undefined : format(op.preferred);
                address = pool.allocate(`k${op.key}`, preferred === undefined ? {} : { preferred }).address;
              } catch {
                expect(pool.stats().free).toBe(0);
                continue;
              }
              // Reclaiming a reservation may have taken another key's address.
              for (const key of [...held.keys()]) if (!pool.lease(`k${key}`)) held.delete(key);
              if (before !== undefined) expect(address).toBe(before);
              expect(forbidden.has(address)).toBe(false);
              expect(pool.contains(address)).toBe(true);
              for (const [key, other] of held) if (key !== op.key) expect(other).not.toBe(address);
              held.set(op.key, address);
            }
            const stats = pool.stats();
            expect(stats.active + stats.reserved + stats.free).toBe(pool.capacity);
            expect(stats.active + stats.reserved).toBe(held.size);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
