import { describe, expect, it } from 'vitest';
import { httpDate } from './http-date.js';

describe('httpDate', () => {
  it.each([
    ['the start of a second', Date.UTC(2026, 11, 8, 2, 33, 25, 0), 'Tue, 08 Dec 2026 02:33:25 GMT'],
    ['inside the same second', Date.UTC(2026, 11, 8, 2, 33, 25, 999), 'Tue, 08 Dec 2026 02:33:25 GMT'],
    ['the next second', Date.UTC(2026, 11, 8, 2, 33, 26, 1), 'Tue, 08 Dec 2026 02:33:26 GMT'],
    [
      'an earlier second (a clock set back)',
      Date.UTC(2026, 11, 8, 2, 33, 24, 500),
      'Tue, 08 Dec 2026 02:33:24 GMT',
    ],
  ])('gives the IMF-fixdate of %s', (_name, now, expected) => {
    expect(httpDate(now)).toBe(expected);
  });
});
