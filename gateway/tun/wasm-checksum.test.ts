import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fold, sumBytes } from './tcp-segment.js';
import { checksumMemory, MAX_SUM_LENGTH } from './wasm-checksum.js';

const memory = checksumMemory(MAX_SUM_LENGTH + 65536)!;
const bytes = new Uint8Array(memory.buffer);
const view = new DataView(memory.buffer);

describe('checksumMemory (RFC 1071 sums in WebAssembly)', () => {
  it('gives shared memory of whole 64 KiB pages, at least the bytes asked for', () => {
    const m = checksumMemory(100_000)!;
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.buffer.byteLength).toBe(2 * 65536);
  });

  it.each([
    ['nothing', 0, [], 0],
    ['all zero', 0, [0, 0, 0, 0, 0], 0],
    ['one byte: the high half of a word', 3, [0xab], 0xab00],
    ['the RFC 1071 §3 example', 1, [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0xddf2],
    ['a zero sum that is not all zero stays 0xffff', 2, [0xff, 0xff], 0xffff],
    ['0x0001 + 0xfffe', 0, [0x00, 0x01, 0xff, 0xfe], 0xffff],
  ])('%s', (_name, at, data, expected) => {
    bytes.fill(0xee, 0, 64);
    bytes.set(data, at);
    expect(memory.sum(at, data.length)).toBe(expected);
  });

  it('sums MAX_SUM_LENGTH bytes of 0xff without overflowing', () => {
    bytes.fill(0xff, 0, MAX_SUM_LENGTH);
    expect(memory.sum(0, MAX_SUM_LENGTH)).toBe(0xffff);
    bytes.fill(0xfe, 0, MAX_SUM_LENGTH);
    expect(memory.sum(0, MAX_SUM_LENGTH)).toBe(fold(sumBytes(view, 0, MAX_SUM_LENGTH, 0)));
  });

  it('agrees with the byte-wise sum at any start and length (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(5000), (data, at) => {
        bytes.set(data, at);
        expect(memory.sum(at, data.length)).toBe(fold(sumBytes(view, at, data.length, 0)));
      }),
      { numRuns: 500 },
    );
  });
});
