import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeLayer } from './merge-layer.js';

describe('mergeLayer', () => {
  it.each([
    ['mappings merge', { a: { b: 1, c: 2 } }, { a: { c: 3 } }, { a: { b: 1, c: 3 } }],
    ['lists replace', { r: [1, 2] }, { r: [3] }, { r: [3] }],
    ['null replaces', { t: { cert: 'x' } }, { t: null }, { t: null }],
    ['missing upper keeps lower', { a: 1 }, {}, { a: 1 }],
    ['undefined upper keeps lower', { a: 1 }, undefined, { a: 1 }],
    ['scalar over mapping', { a: { b: 1 } }, { a: 2 }, { a: 2 }],
  ])('%s', (_name, lower, upper, expected) => {
    expect(mergeLayer(lower, upper)).toEqual(expected);
  });

  it('keeps __proto__ an own key and never pollutes prototypes', () => {
    const upper = JSON.parse('{"__proto__": {"polluted": true}}');
    const merged = mergeLayer({}, upper) as Record<string, unknown>;
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not modify its inputs', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const before = JSON.stringify([a, b]);
        mergeLayer(a, b);
        expect(JSON.stringify([a, b])).toBe(before);
      }),
    );
  });
});
