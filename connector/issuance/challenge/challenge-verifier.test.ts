import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../core/errors.js';
import { ChallengeVerifier } from './challenge-verifier.js';
import { JwsChallengeVerifier } from './jws-challenge.js';
import { MemoryChallengeStore } from './testing/memory-challenge-store.js';

const now = new Date('2026-11-26T12:00:00Z');
const clock = () => now;
const cloudKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

async function jwks() {
  const jwk = await exportJWK(cloudKey.publicKey);
  return { keys: [{ ...jwk, kid: 'cloud-1', alg: 'ES256', use: 'sig' }] };
}

async function token(claims: Record<string, unknown>, opts: { key?: typeof cloudKey; exp?: number } = {}) {
  const key = opts.key ?? cloudKey;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'cloud-1' })
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(opts.exp ?? Math.floor(now.getTime() / 1000) + 600)
    .setAudience('outpost-scep')
    .sign(key.privateKey);
}

async function verifier(staticChallenge: string | null = null) {
  const store = new MemoryChallengeStore();
  const jws = new JwsChallengeVerifier({ jwks: await jwks(), store, clock, audience: 'outpost-scep' });
  return { store, verifier: new ChallengeVerifier({ staticChallenge, store, jws, clock, oneTime: true }) };
}

describe('ChallengeVerifier', () => {
  it('accepts the static challenge and refuses others with badChallenge', async () => {
    const { verifier: v } = await verifier('s3cret');
    await expect(v.verify('s3cret')).resolves.toMatchObject({ kind: 'static' });
    for (const wrong of ['s3cre', 's3cret ', '', undefined, 'x'.repeat(10_000)]) {
      await expect(v.verify(wrong)).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
    }
  });

  it('accepts a one-time challenge exactly once and carries its profile', async () => {
    const { verifier: v } = await verifier();
    const challenge = await v.mintOneTime(60, 'wifi');
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(v.verify(challenge)).resolves.toMatchObject({ kind: 'one-time', profile: 'wifi' });
    await expect(v.verify(challenge)).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
  });

  it('refuses an expired one-time challenge', async () => {
    const store = new MemoryChallengeStore();
    let t = now;
    const v = new ChallengeVerifier({ staticChallenge: null, store, clock: () => t, oneTime: true });
    const challenge = await v.mintOneTime(60);
    t = new Date(now.getTime() + 61_000);
    await expect(v.verify(challenge)).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
  });

  it.each([0, -1, 1.5, 31 * 24 * 3600])('refuses ttl %s', async (ttl) => {
    const { verifier: v } = await verifier();
    await expect(v.mintOneTime(ttl)).rejects.toThrow(/ttl/);
  });

  it('accepts a JWS challenge once and returns its expectations', async () => {
    const { verifier: v } = await verifier();
    const jwt = await token({
      jti: 'c-1',
      subject: 'CN=device-1,O=Example',
      sans: { dns: ['device-1.corp.test'] },
      keySize: 2048,
      eku: ['clientAuth'],
      profile: 'device',
    });
    const grant = await v.verify(jwt);
    expect(grant).toMatchObject({ kind: 'jws', profile: 'device', reference: 'jti:c-1' });
    expect(grant.expectations).toEqual({
      subject: 'CN=device-1,O=Example',
      sans: { dns: ['device-1.corp.test'] },
      keySize: 2048,
      eku: ['clientAuth'],
      profile: 'device',
    });
    await expect(v.verify(jwt)).rejects.toThrow(/challenge/);
  });

  it('holds a challenge for one transaction until released (issue 11 #3): one-time and JWS', async () => {
    const { verifier: v } = await verifier();
    for (const challenge of [await v.mintOneTime(60), await token({ jti: 'held' })]) {
      const grant = await v.verify(challenge, 'tx-1');
      expect(grant.use).toMatchObject({ holder: 'tx-1' });
      await expect(v.verify(challenge, 'tx-2')).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
      await expect(v.verify(challenge, 'tx-1')).resolves.toMatchObject({ use: { holder: 'tx-1' } }); // a retry
      await v.release(grant.use!);
      await expect(v.verify(challenge, 'tx-2')).resolves.toMatchObject({ use: { holder: 'tx-2' } });
    }
  });

  it.each([
    ['signed by another key', async () => token({ jti: 'x' }, { key: otherKey })],
    ['expired', async () => token({ jti: 'y' }, { exp: Math.floor(now.getTime() / 1000) - 3600 })],
    ['without jti', async () => token({})],
    ['with a wrongly typed claim', async () => token({ jti: 'z', keySize: 'big' })],
    ['with sans as an array', async () => token({ jti: 'w', sans: ['a'] })],
  ])('refuses a JWS challenge %s', async (_name, make) => {
    const { verifier: v } = await verifier();
    await expect(v.verify(await make())).rejects.toMatchObject({ code: ErrorCodes.badChallenge });
  });
});
