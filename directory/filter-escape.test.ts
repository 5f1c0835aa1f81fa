import fc from 'fast-check';
import { EqualityFilter, FilterParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { escapeFilterValue } from './filter-escape.js';

describe('escapeFilterValue (RFC 4515 §3)', () => {
  it('escapes the five characters the RFC requires', () => {
    expect(escapeFilterValue('*')).toBe('\\2a');
    expect(escapeFilterValue('a(b)c')).toBe('a\\28b\\29c');
    expect(escapeFilterValue('back\\slash')).toBe('back\\5cslash');
    expect(escapeFilterValue('nul\0')).toBe('nul\\00');
    expect(escapeFilterValue('Jörg Ünicode')).toBe('Jörg Ünicode');
  });

  it('keeps an injection attempt inside one equality assertion', () => {
    const parsed = FilterParser.parseString(`(uid=${escapeFilterValue('*)(uid=*))(|(uid=*')})`);
    expect(parsed).toBeInstanceOf(EqualityFilter);
    expect((parsed as EqualityFilter).value).toBe('*)(uid=*))(|(uid=*');
  });

  it('round-trips any string through ldapts filter parsing as one equality value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (value) => {
        const parsed = FilterParser.parseString(`(uid=${escapeFilterValue(value)})`);
        expect(parsed).toBeInstanceOf(EqualityFilter);
        expect((parsed as EqualityFilter).value).toBe(value);
      }),
    );
  });
});
