import { beforeAll, describe, expect, it } from 'vitest';
import { type BuildCsrOptions, buildCsr, parseCsr } from '../../certs/csr.js';
import { generateKeyPair, type KeyPair } from '../../certs/keys.js';
import { ErrorCodes } from '../../core/errors.js';
import type { CsrExpectations } from './challenge/expectations.js';
import { checkCsr } from './csr-policy.js';
import type { ProfilePolicy } from './profile-policy.js';

const profile: ProfilePolicy = {
  name: 'device',
  validityDays: 365,
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  eku: ['clientAuth'],
  keyTypes: ['rsa', 'ec'],
  minRsaBits: 2048,
  approval: 'auto',
  allowedSanTypes: ['dns', 'email', 'upn'],
};

let rsa: KeyPair;
let ec: KeyPair;
beforeAll(async () => {
  [rsa, ec] = await Promise.all([generateKeyPair('rsa-2048'), generateKeyPair('ec-p256')]);
});

function csr(subject: string, opts: BuildCsrOptions = {}, key: KeyPair = rsa) {
  return parseCsr(buildCsr(subject, key, opts));
}

describe('checkCsr', () => {
  it('returns the profile usages when the challenge pins none', () => {
    expect(checkCsr(csr('CN=device-1,O=Example'), profile, {})).toEqual({
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      eku: ['clientAuth'],
    });
  });

  it('accepts an EC key and a subject matching the challenge after normalization', () => {
    const expected: CsrExpectations = {
      subject: 'cn=Device-1, o=example',
      keySize: 256,
      sans: { dns: ['A.corp.test'] },
    };
    expect(() =>
      checkCsr(csr('CN=device-1,O=Example', { sans: { dns: ['a.corp.test'] } }, ec), profile, expected),
    ).not.toThrow();
  });

  it('uses the challenge usages when it pins them', () => {
    const usages = checkCsr(csr('CN=d'), profile, {
      keyUsage: ['digitalSignature'],
      eku: ['clientAuth', 'emailProtection'],
    });
    expect(usages).toEqual({ keyUsage: ['digitalSignature'], eku: ['clientAuth', 'emailProtection'] });
  });

  it.each<[string, () => ReturnType<typeof csr>, CsrExpectations, RegExp]>([
    [
      'a different subject',
      () => csr('CN=device-2,O=Example'),
      { subject: 'CN=device-1,O=Example' },
      /subject/,
    ],
    ['a missing SAN', () => csr('CN=d'), { sans: { dns: ['d.corp.test'] } }, /dns SANs/],
    [
      'an extra SAN',
      () => csr('CN=d', { sans: { dns: ['d.corp.test', 'x.corp.test'] } }),
      { sans: { dns: ['d.corp.test'] } },
      /dns SANs/,
    ],
    ['another key size', () => csr('CN=d'), { keySize: 3072 }, /key size/],
    ['a forbidden SAN type', () => csr('CN=d', { sans: { uri: ['https://x'] } }), {}, /SAN type uri/],
    [
      'an unallowed requested EKU',
      () => csr('CN=d', { eku: ['serverAuth'] }),
      {},
      /extended key usage serverAuth/,
    ],
    [
      'an unallowed requested key usage',
      () => csr('CN=d', { keyUsage: ['keyCertSign'] }),
      {},
      /key usage keyCertSign/,
    ],
    ['an empty subject without SANs', () => csr(''), {}, /neither a subject/],
  ])('refuses %s with badRequest', (_name, make, expected, message) => {
    expect(() => checkCsr(make(), profile, expected)).toThrow(message);
    try {
      checkCsr(make(), profile, expected);
    } catch (e) {
      expect((e as { code: string }).code).toBe(ErrorCodes.badRequest);
    }
  });

  it.each<[string, 'rsa' | 'ec', string[] | undefined, string[] | undefined, string[], string[] | undefined]>(
    [
      ['RSA, by key type', 'rsa', undefined, undefined, ['digitalSignature', 'keyEncipherment'], undefined],
      ['EC, by key type', 'ec', undefined, undefined, ['digitalSignature'], undefined],
      [
        'EC, profile lists keyEncipherment',
        'ec',
        ['digitalSignature', 'keyEncipherment'],
        undefined,
        ['digitalSignature'],
        ['keyEncipherment'],
      ],
      [
        'EC, challenge pins dataEncipherment',
        'ec',
        undefined,
        ['keyAgreement', 'dataEncipherment'],
        ['keyAgreement'],
        ['dataEncipherment'],
      ],
      [
        'RSA, profile lists keyEncipherment',
        'rsa',
        ['keyEncipherment'],
        undefined,
        ['keyEncipherment'],
        undefined,
      ],
    ],
  )('key usage: %s (RFC 5480 §3)', (_name, keyType, listed, pinned, keyUsage, dropped) => {
    const { keyUsage: _ku, ...withoutUsage } = profile;
    const policy: ProfilePolicy = listed ? { ...withoutUsage, keyUsage: listed } : withoutUsage;
    const usages = checkCsr(
      csr('CN=d', {}, keyType === 'rsa' ? rsa : ec),
      policy,
      pinned ? { keyUsage: pinned } : {},
    );
    expect(usages).toEqual({
      keyUsage,
      eku: ['clientAuth'],
      ...(dropped ? { droppedKeyUsage: dropped } : {}),
    });
  });

  it('refuses key types and sizes the profile does not allow', () => {
    expect(() => checkCsr(csr('CN=d', {}, ec), { ...profile, keyTypes: ['rsa'] }, {})).toThrow(/key type ec/);
    expect(() => checkCsr(csr('CN=d'), { ...profile, minRsaBits: 3072 }, {})).toThrow(/RSA key of 2048 bits/);
  });

  it('refuses a subject that does not match the profile pattern', () => {
    expect(() => checkCsr(csr('CN=laptop-1'), { ...profile, subjectPattern: /^CN=device-/ }, {})).toThrow(
      /profile device/,
    );
  });

  it('refuses a CSR whose signature does not verify', () => {
    const parsed = csr('CN=d');
    expect(() => checkCsr({ ...parsed, signatureValid: false }, profile, {})).toThrow(/signature/);
  });
});
