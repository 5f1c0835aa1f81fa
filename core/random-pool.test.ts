import { beforeEach, describe, expect, it, vi } from 'vitest';

/** Each fill writes the next bytes of a counter, so that every byte a fill produced is known. */
const fills: Buffer[] = [];
let counter = 0;
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    randomFillSync: vi.fn((buffer: Buffer) => {
      for (let i = 0; i < buffer.length; i++) buffer[i] = counter++ & 0xff;
      fills.push(buffer);
      return buffer;
    }),
  };
});

const { RandomPool } = await import('./random-pool.js');

describe('RandomPool', () => {
  beforeEach(() => {
    fills.length = 0;
    counter = 0;
  });

  it.each([
    { size: 64, length: 32, draws: 5, fills: 3 },
    { size: 64, length: 24, draws: 5, fills: 3 }, // 16 bytes left over are skipped, not reused
    { size: 32, length: 32, draws: 3, fills: 3 },
    { size: 4096, length: 32, draws: 128, fills: 1 },
    { size: 4096, length: 32, draws: 129, fills: 2 },
  ])('hands out each filled byte at most once (%o)', ({ size, length, draws, fills: expectedFills }) => {
    const pool = new RandomPool(size);
    const handedOut: string[] = [];
    for (let i = 0; i < draws; i++) handedOut.push(pool.string(length, 'hex'));
    expect(fills.length).toBe(expectedFills);
    // Draw i is bytes [at, at + length) of the counter, each fill starting a new stretch.
    const perFill = Math.floor(size / length);
    const expected = Array.from({ length: draws }, (_, i) => {
      const start = Math.floor(i / perFill) * size + (i % perFill) * length;
      return Buffer.from(Array.from({ length }, (_, j) => (start + j) & 0xff)).toString('hex');
    });
    expect(handedOut).toEqual(expected);
  });

  it('zeroes what it handed out, in strings and in buffers', () => {
    const pool = new RandomPool(64);
    const text = pool.string(32, 'base64url');
    const bytes = pool.bytes(16);
    const filled = fills[0]!;
    expect(Buffer.from(text, 'base64url').equals(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(
      true,
    );
    expect([...bytes]).toEqual(Array.from({ length: 16 }, (_, i) => 32 + i));
    expect(filled.subarray(0, 48).every((b) => b === 0)).toBe(true);
    expect(filled[48]).toBe(48); // not handed out yet
    expect(bytes.buffer).not.toBe(filled.buffer); // the caller's copy survives the zeroing
  });

  it.each([0, -1, 1.5, 65])('refuses a request of %s bytes from a pool of 64', (length) => {
    expect(() => new RandomPool(64).string(length, 'hex')).toThrow(RangeError);
  });

  it.each([0, -8, 2.5])('refuses a pool of %s bytes', (size) => {
    expect(() => new RandomPool(size)).toThrow(RangeError);
  });
});
