import { describe, expect, it } from 'vitest';
import { parseKeylogLine } from './keylog.js';

describe('parseKeylogLine (NSS key log format)', () => {
  const random = 'ab'.repeat(32);

  it('reads label, client random and secret', () => {
    const entry = parseKeylogLine(Buffer.from(`CLIENT_TRAFFIC_SECRET_0 ${random} ${'0f'.repeat(48)}\n`));
    expect(entry?.label).toBe('CLIENT_TRAFFIC_SECRET_0');
    expect(entry?.clientRandom.toString('hex')).toBe(random);
    expect(entry?.secret.length).toBe(48);
  });

  it.each([
    ['a short random', `CLIENT_RANDOM ${'ab'.repeat(31)} ${'00'.repeat(48)}`],
    ['odd hex', `CLIENT_RANDOM ${random} ${'0'.repeat(95)}`],
    ['a lower-case label', `client_random ${random} ${'00'.repeat(48)}`],
    ['too long a line', `CLIENT_RANDOM ${random} ${'00'.repeat(300)}`],
    ['junk', 'hello'],
  ])('ignores %s', (_, line) => {
    expect(parseKeylogLine(line)).toBeUndefined();
  });
});
