import { describe, expect, it } from 'vitest';
import { COOKIE_LENGTH, CookieJar } from './cookie-jar.js';

function jar(clock: { t: number }) {
  let n = 0;
  return new CookieJar({ rotateMs: 60_000, now: () => clock.t, random: (len) => Buffer.alloc(len, ++n) });
}

const params = Buffer.from(`fefd${'11'.repeat(32)}00`, 'hex');

describe('HelloVerifyRequest cookies (RFC 6347 §4.2.1)', () => {
  it('verifies for the same address, port and ClientHello parameters only', () => {
    const clock = { t: 0 };
    const j = jar(clock);
    const cookie = j.make('192.0.2.1', 4000, params);
    expect(cookie.length).toBe(COOKIE_LENGTH);
    expect(j.verify('192.0.2.1', 4000, params, cookie)).toBe(true);
    expect(j.verify('192.0.2.2', 4000, params, cookie)).toBe(false);
    expect(j.verify('192.0.2.1', 4001, params, cookie)).toBe(false);
    expect(j.verify('192.0.2.1', 4000, Buffer.concat([params, Buffer.of(0)]), cookie)).toBe(false);
    expect(j.verify('192.0.2.1', 4000, params, cookie.subarray(1))).toBe(false);
    const flipped = Buffer.from(cookie);
    flipped[5]! ^= 1;
    expect(j.verify('192.0.2.1', 4000, params, flipped)).toBe(false);
  });

  it('rotates the secret: the previous period is still accepted, older is not', () => {
    const clock = { t: 10_000 };
    const j = jar(clock);
    const cookie = j.make('192.0.2.1', 4000, params);
    clock.t = 70_000;
    expect(j.verify('192.0.2.1', 4000, params, cookie)).toBe(true);
    expect(j.make('192.0.2.1', 4000, params).equals(cookie)).toBe(false);
    clock.t = 130_000;
    expect(j.verify('192.0.2.1', 4000, params, cookie)).toBe(false);
  });

  it('forgets both secrets after a long pause', () => {
    const clock = { t: 0 };
    const j = jar(clock);
    const cookie = j.make('192.0.2.1', 4000, params);
    clock.t = 600_000;
    expect(j.verify('192.0.2.1', 4000, params, cookie)).toBe(false);
  });
});
