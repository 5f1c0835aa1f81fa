import { describe, expect, it } from 'vitest';
import { ClientRateLimiter, ConcurrencyGate } from './client-limits.js';

describe('ClientRateLimiter', () => {
  it('allows perMinute requests, then refuses, then refills with time', () => {
    let now = 0;
    const limiter = new ClientRateLimiter(3, () => now);
    for (let i = 0; i < 3; i++) limiter.take('a');
    expect(() => limiter.take('a')).toThrow(/too many/);
    limiter.take('b');
    now += 20_000; // a third of a minute = one token
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(/too many/);
  });

  it('keeps its table bounded', () => {
    const limiter = new ClientRateLimiter(1, () => 0, 2);
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // evicts a
    expect(() => limiter.take('a')).not.toThrow();
  });
});

describe('ConcurrencyGate', () => {
  it('refuses beyond max and frees the slot after completion or failure', async () => {
    const gate = new ConcurrencyGate(1);
    let release!: () => void;
    const first = gate.run(() => new Promise<void>((r) => (release = r)));
    await expect(gate.run(async () => 1)).rejects.toThrow(/busy/);
    release();
    await first;
    await expect(gate.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(gate.run(async () => 2)).resolves.toBe(2);
  });
});
