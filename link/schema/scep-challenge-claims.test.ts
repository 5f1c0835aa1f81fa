import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scepChallengeClaims } from './scep-challenge-claims.js';

describe('SCEP challenge claims', () => {
  it('keeps the known claims and drops the others (the JWT registered claims among them)', () => {
    const pinned = {
      subject: 'CN=alice',
      sans: { dns: ['a.example'] },
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth'],
      keySize: 2048,
      profile: 'user',
      deviceId: 'd-1',
      userId: 'u-1',
    };
    const claims = { ...pinned, sans: { ...pinned.sans, other: ['x'] }, jti: 'j-1', exp: 1, groups: ['vpn'] };
    expect(scepChallengeClaims.parse(claims)).toEqual(pinned);
    expect(scepChallengeClaims.parse({ sans: {} })).toEqual({ sans: {} });
  });

  it.each<[string, Record<string, unknown>]>([
    ['sans an array', { sans: ['dns:a'] }],
    ['sans null', { sans: null }],
    ['a SAN list with a number', { sans: { ip: [1] } }],
    ['keyUsage a string', { keyUsage: 'digitalSignature' }],
    ['keySize not an integer', { keySize: 2048.5 }],
    ['keySize a string', { keySize: '2048' }],
    ['subject null', { subject: null }],
    ['userId a number', { userId: 7 }],
  ])('refuses %s', (_name, claims) => {
    expect(scepChallengeClaims.safeParse(claims).success).toBe(false);
  });

  it('whatever a payload carries, what it accepts holds only the known claims', () => {
    const known = Object.keys(scepChallengeClaims.shape);
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (payload) => {
        const parsed = scepChallengeClaims.safeParse(payload);
        if (parsed.success) expect(Object.keys(parsed.data).every((k) => known.includes(k))).toBe(true);
      }),
    );
  });
});
