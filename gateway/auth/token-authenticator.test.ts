import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { AUTH_FAILURE_MESSAGES } from './auth-result.js';
import { BEARER_CHALLENGE, bearerToken } from './bearer-token.js';
import { TokenAuthenticator, type TokenAuthenticatorOptions } from './token-authenticator.js';
import { tokenKeySource } from './token-key-source.js';

const NOW = new Date('2030-06-01T12:00:00Z');
const SEC = Math.floor(NOW.getTime() / 1000);
const ISSUER = 'https://cloud.example';
const AUDIENCE = 'outpost-gateway';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let key: SigningKey;
let otherKey: SigningKey;
let jwks: { keys: object[] };

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
});

function sign(claims: JWTPayload, options: { signWith?: SigningKey; kid?: string } = {}): Promise<string> {
  // Claims passed in override the defaults (SignJWT's setters would override them instead).
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    iat: SEC - 60,
    exp: SEC + 300,
    upn: 'alice@corp.test',
    groups: ['vpn-users'],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'k1' })
    .sign(options.signWith ?? key);
}

function authenticator(overrides: Partial<TokenAuthenticatorOptions> = {}): TokenAuthenticator {
  return new TokenAuthenticator({
    keys: createLocalJWKSet(jwks as never),
    issuer: ISSUER,
    audience: AUDIENCE,
    usernameClaim: 'upn',
    clock: () => NOW,
    ...overrides,
  });
}

async function refusal(p: Promise<unknown>, detail: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OutpostError);
  expect((e as OutpostError).code).toBe(ErrorCodes.unauthorized);
  expect((e as OutpostError).clientMessage).toBe(AUTH_FAILURE_MESSAGES.token);
  expect((e as OutpostError).message).toMatch(detail);
}

describe('bearerToken (what openconnect --token-mode=oidc sends)', () => {
  it('reads "Authorization: Bearer <token>" with a case-insensitive scheme', () => {
    expect(bearerToken('Bearer abc.def-_~+/ghi==')).toBe('abc.def-_~+/ghi==');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(BEARER_CHALLENGE).toBe('Bearer');
  });

  it('refuses other schemes, missing and malformed credentials', () => {
    for (const bad of [
      undefined,
      'Basic YWxpY2U6cHc=',
      'Bearer',
      'Bearer a b',
      'Bearer a"b',
      `Bearer ${'a'.repeat(20_000)}`,
    ]) {
      expect(() => bearerToken(bad), String(bad).slice(0, 20)).toThrow(OutpostError);
    }
  });
});

describe('TokenAuthenticator', () => {
  it('accepts a valid token: username from the configured claim, groups from "groups"', async () => {
    const token = await sign({});
    expect(await authenticator().authenticateBearer(`Bearer ${token}`)).toEqual({
      username: 'alice@corp.test',
      groups: ['vpn-users'],
      method: 'token',
    });
    expect(
      (await authenticator({ usernameClaim: 'sub' }).authenticate(await sign({ sub: 'alice' }))).username,
    ).toBe('alice');
  });

  it('checks exp and nbf against the fixed clock (with tolerance)', async () => {
    await refusal(authenticator().authenticate(await sign({ exp: SEC - 31 })), /exp/);
    expect((await authenticator().authenticate(await sign({ exp: SEC - 10 }))).username).toBe(
      'alice@corp.test',
    );
    await refusal(authenticator().authenticate(await sign({ nbf: SEC + 60 })), /nbf/);
    await refusal(authenticator({ maxTokenAgeSec: 10 }).authenticate(await sign({})), /iat/);
  });

  it('requires exp, the username claim and configured claims', async () => {
    const noExp = await new SignJWT({ upn: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(key);
    await refusal(authenticator().authenticate(noExp), /exp/);
    await refusal(
      authenticator({ usernameClaim: 'preferred_username' }).authenticate(await sign({})),
      /preferred_username/,
    );
    await refusal(authenticator({ requiredClaims: ['device_id'] }).authenticate(await sign({})), /device_id/);
    await refusal(authenticator().authenticate(await sign({ upn: 42 })), /upn/);
  });

  it('checks issuer and audience', async () => {
    await refusal(authenticator({ issuer: 'https://evil.example' }).authenticate(await sign({})), /iss/);
    await refusal(authenticator({ audience: 'someone-else' }).authenticate(await sign({})), /aud/);
  });

  it('refuses bad signatures, unknown keys, "none" and HMAC tokens', async () => {
    await refusal(authenticator().authenticate(await sign({}, { signWith: otherKey })), /signature/);
    await refusal(authenticator().authenticate(await sign({}, { kid: 'nope' })), /ERR_JWKS_NO_MATCHING_KEY/);
    const [, payload] = (await sign({})).split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    await refusal(authenticator().authenticate(none), /ERR_/);
    const hs = await new SignJWT({ upn: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(SEC + 60)
      .sign(new Uint8Array(32));
    await refusal(authenticator().authenticate(hs), /alg/);
    await refusal(authenticator().authenticate('not.a.jwt'), /ERR_/);
  });

  it('ignores non-string group entries and a non-array groups claim', async () => {
    expect((await authenticator().authenticate(await sign({ groups: ['a', 1, '', 'b'] }))).groups).toEqual([
      'a',
      'b',
    ]);
    expect((await authenticator().authenticate(await sign({ groups: 'a' }))).groups).toEqual([]);
  });
});

describe('tokenKeySource', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let serveJwks = true;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-jwks-'));
    server = createServer((_req, res) => {
      if (!serveJwks) return; // hang: the fetch must time out
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads a JWKS file', async () => {
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
    const keys = await tokenKeySource(join(dir, 'jwks.json'));
    expect((await authenticator({ keys }).authenticate(await sign({}))).username).toBe('alice@corp.test');
    writeFileSync(join(dir, 'bad.json'), '{}');
    await expect(tokenKeySource(join(dir, 'bad.json'))).rejects.toThrow(/keys/);
  });

  it('fetches a JWKS URL (http only on loopback); a hung JWKS server is unavailable', async () => {
    await expect(tokenKeySource('http://idp.example/jwks.json')).rejects.toThrow(/https/);
    const keys = await tokenKeySource(url, { timeoutMs: 300 });
    expect((await authenticator({ keys }).authenticate(await sign({}))).username).toBe('alice@corp.test');
    serveJwks = false;
    const cold = await tokenKeySource(url, { timeoutMs: 300 });
    const e = await authenticator({ keys: cold })
      .authenticate(await sign({}))
      .catch((err: unknown) => err);
    expect((e as OutpostError).code).toBe(ErrorCodes.unavailable);
  });
});
