import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { intInRange, serialHex } from './option-parsers.js';

describe('intInRange(1, 100)', () => {
  const parse = intInRange(1, 100);
  it.each([
    ['1', 1],
    ['100', 100],
  ])('%s → %d', (text, value) => expect(parse(text)).toBe(value));
  it.each(['0', '101', '-1', '1.5', 'ten', '', '1e2'])('rejects %j', (text) => {
    expect(() => parse(text)).toThrow(InvalidArgumentError);
  });
});

describe('serialHex', () => {
  it.each([
    ['0A:1B', '0a1b'],
    ['0x0A1B', '0a1b'],
    ['deadBEEF', 'deadbeef'],
  ])('%s → %s', (text, value) => expect(serialHex(text)).toBe(value));
  it.each(['', 'xyz', '12 34', 'f'.repeat(65)])('rejects %j', (text) => {
    expect(() => serialHex(text)).toThrow(InvalidArgumentError);
  });
});
