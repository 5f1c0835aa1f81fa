import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { BanPoints } from './ban-points.js';
import { sourceAddressKey } from './source-address-key.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => (t += seconds * 1000) };
}

describe('BanPoints (ocserv defaults: 10 per wrong password, ban at 80 for 300 s, reset after 1200 s)', () => {
  it('bans at the 8th wrong password and lifts the ban after banSeconds', () => {
    const c = clock();
    const bans = new BanPoints({}, c.now);
    for (let i = 1; i <= 7; i++) expect(bans.addFailure('192.0.2.1', 'wrongPassword')).toBe(false);
    expect(bans.addFailure('192.0.2.1', 'wrongPassword')).toBe(true);
    expect(bans.bannedFor('192.0.2.1')).toBe(300);
    expect(() => bans.assertAllowed('192.0.2.1')).toThrow(/too many failed attempts/);
    expect(bans.bannedFor('192.0.2.2')).toBe(0);
    c.advance(299);
    expect(bans.bannedFor('192.0.2.1')).toBe(1);
    c.advance(1);
    expect(bans.bannedFor('192.0.2.1')).toBe(0);
  });

  it('forgets a score after resetSeconds without failures', () => {
    const c = clock();
    const bans = new BanPoints({}, c.now);
    for (let i = 0; i < 7; i++) bans.addFailure('192.0.2.1', 'wrongPassword');
    c.advance(1200);
    expect(bans.addFailure('192.0.2.1', 'wrongPassword')).toBe(false);
    expect(bans.size).toBe(1);
  });

  it('uses configurable points per failure kind; maxScore 0 disables', () => {
    const bans = new BanPoints({ maxScore: 3, points: { connection: 1 } as never }, clock().now);
    bans.addFailure('192.0.2.1', 'connection');
    bans.addFailure('192.0.2.1', 'connection');
    expect(bans.addFailure('192.0.2.1', 'connection')).toBe(true);
    const off = new BanPoints({ maxScore: 0 }, clock().now);
    for (let i = 0; i < 100; i++) off.addFailure('192.0.2.1', 'wrongPassword');
    expect(off.bannedFor('192.0.2.1')).toBe(0);
  });

  it('guard: refuses while banned, scores unauthorized failures only', async () => {
    const bans = new BanPoints({ maxScore: 20 }, clock().now);
    const fail = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes]) => async () => {
      throw new OutpostError(code, 'x');
    };
    await expect(bans.guard('198.51.100.7', 'badToken', fail(ErrorCodes.unavailable))).rejects.toThrow();
    await expect(bans.guard('198.51.100.7', 'badToken', fail(ErrorCodes.unavailable))).rejects.toThrow();
    expect(bans.bannedFor('198.51.100.7')).toBe(0);
    await expect(bans.guard('198.51.100.7', 'badToken', fail(ErrorCodes.unauthorized))).rejects.toThrow();
    await expect(bans.guard('198.51.100.7', 'badToken', fail(ErrorCodes.unauthorized))).rejects.toThrow();
    const e = await bans.guard('198.51.100.7', 'badToken', async () => 'ok').catch((x: unknown) => x);
    expect((e as OutpostError).code).toBe(ErrorCodes.busy);
    expect(await bans.guard('198.51.100.8', 'badToken', async () => 'ok')).toBe('ok');
  });

  it('keeps the table bounded, evicting unbanned entries before banned ones', () => {
    const bans = new BanPoints({ maxEntries: 100, maxScore: 10 }, clock().now);
    bans.addFailure('203.0.113.1', 'wrongPassword'); // banned, and the oldest entry
    fc.assert(
      fc.property(fc.array(fc.ipV4(), { maxLength: 300 }), (addresses) => {
        for (const a of addresses) bans.addFailure(a, 'connection');
        expect(bans.size).toBeLessThanOrEqual(100);
      }),
      { numRuns: 20 },
    );
    expect(bans.bannedFor('203.0.113.1')).toBeGreaterThan(0);
  });

  it('scores IPv4-mapped addresses as IPv4 and IPv6 per /64', () => {
    const bans = new BanPoints({ maxScore: 20 }, clock().now);
    bans.addFailure('::ffff:192.0.2.9', 'wrongPassword');
    bans.addFailure('192.0.2.9', 'wrongPassword');
    expect(bans.bannedFor('192.0.2.9')).toBeGreaterThan(0);
    bans.addFailure('2001:db8:1:2::1', 'wrongPassword');
    bans.addFailure('2001:db8:1:2:ffff::2', 'wrongPassword');
    expect(bans.bannedFor('2001:db8:1:2::77')).toBeGreaterThan(0);
    expect(bans.bannedFor('2001:db8:1:3::1')).toBe(0);
  });
});

describe('BanPoints for operators (issue 10: a ban was invisible)', () => {
  it('tells its listener once per new ban, lists bans in force, and lifts one by address or listed key', () => {
    const c = clock();
    const bans = new BanPoints({ maxScore: 20, banSeconds: 300 }, c.now);
    const told: unknown[] = [];
    bans.onBan((ban) => told.push(ban));
    for (let i = 0; i < 4; i++) bans.addFailure('192.0.2.7', 'wrongPassword');
    bans.addFailure('2001:db8:5::9', 'wrongPassword');
    bans.addFailure('2001:db8:5::10', 'wrongPassword');
    bans.addFailure('198.51.100.1', 'connection'); // scored, not banned
    const start = c.now();
    expect(told).toEqual([
      { address: '192.0.2.7', score: 20, until: start + 300_000 },
      { address: '2001:db8:5:0:0:0:0:0/64', score: 20, until: start + 300_000 },
    ]);
    expect(bans.bans().map((b) => [b.address, b.score])).toEqual([
      ['192.0.2.7', 40],
      ['2001:db8:5:0:0:0:0:0/64', 20],
    ]);
    expect(bans.forget('2001:db8:5:0:0:0:0:0/64')).toBe(true);
    expect(bans.bannedFor('2001:db8:5::1')).toBe(0);
    expect(bans.forget('::ffff:192.0.2.7')).toBe(true);
    expect(bans.forget('192.0.2.7')).toBe(false);
    expect(bans.bans()).toEqual([]);
  });

  it('imports a ban another node made (a /64 key too) without telling its listener; an ended one is ignored', () => {
    const c = clock();
    const bans = new BanPoints({}, c.now);
    const told: unknown[] = [];
    bans.onBan((ban) => told.push(ban));
    bans.importBan({ address: '192.0.2.9', score: 80, until: c.now() + 120_000 });
    bans.importBan({ address: '2001:db8:6:0:0:0:0:0/64', score: 80, until: c.now() + 60_000 });
    bans.importBan({ address: '192.0.2.10', score: 80, until: c.now() });
    expect(bans.bannedFor('192.0.2.9')).toBe(120);
    expect(bans.bannedFor('2001:db8:6::77')).toBe(60);
    expect(bans.bannedFor('192.0.2.10')).toBe(0);
    expect(told).toEqual([]);
    c.advance(120);
    expect(bans.bannedFor('192.0.2.9')).toBe(0);
  });

  it('drops a ban from the list once it has ended', () => {
    const c = clock();
    const bans = new BanPoints({ maxScore: 10, banSeconds: 60 }, c.now);
    bans.addFailure('192.0.2.8', 'wrongPassword');
    expect(bans.bans()).toHaveLength(1);
    c.advance(60);
    expect(bans.bans()).toEqual([]);
  });
});

describe('sourceAddressKey', () => {
  it('normalizes addresses', () => {
    expect(sourceAddressKey('::FFFF:10.0.0.1')).toBe('10.0.0.1');
    expect(sourceAddressKey('2001:db8::1')).toBe('2001:db8:0:0:0:0:0:0/64');
    expect(sourceAddressKey('2001:db8::1', 128)).toBe('2001:db8:0:0:0:0:0:1/128');
    expect(sourceAddressKey('2001:db8:abcd:12ff::1', 56)).toBe('2001:db8:abcd:1200:0:0:0:0/56');
    expect(sourceAddressKey('fe80::1%eth0')).toBe('fe80:0:0:0:0:0:0:0/64');
  });
});
