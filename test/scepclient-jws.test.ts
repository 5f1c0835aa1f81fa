import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

// Cloud-minted challenges: a compact JWS signed by a JWKS key, pinning the subject and key size.
// micromdm scepclient carries it as an ordinary challengePassword.
describe('micromdm scepclient with JWS challenges', () => {
  const cloudKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let app: RunningAppliance;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-jwks-'));
    const jwksFile = join(dir, 'jwks.json');
    const jwk = await exportJWK(cloudKey.publicKey);
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...jwk, kid: 'cloud-1', alg: 'ES256' }] }));
    app = await startAppliance({ connector: { scep: { challenge: { jwks: jwksFile } } } });
  });
  afterAll(async () => app?.stop());

  function challenge(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'cloud-1' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(`jti-${Math.random().toString(36).slice(2)}`)
      .sign(cloudKey.privateKey);
  }

  it('enrolls when the CSR matches the token field by field, once per token', async () => {
    const token = await challenge({ subject: 'CN=jws-device,OU=Devices,O=Example,C=US', keySize: 2048 });
    const ok = await scepclient(app.scepUrl, { cn: 'jws-device', challenge: token });
    expect(ok.code, ok.stderr + app.logs()).toBe(0);
    expect(await openssl(['verify', '-CAfile', join(app.dataDir, 'ca', 'ca.pem'), ok.certFile])).toContain(
      ': OK',
    );

    const replay = await scepclient(app.scepUrl, { cn: 'jws-device', challenge: token });
    expect(replay.code).toBe(1);
    expect(replay.stdout + replay.stderr).toContain('failInfo: badRequest (2)');
  });

  it('refuses a CSR whose subject or key size differs from the token', async () => {
    const wrongSubject = await challenge({ subject: 'CN=someone-else,OU=Devices,O=Example,C=US' });
    const a = await scepclient(app.scepUrl, { cn: 'jws-device-2', challenge: wrongSubject });
    expect(a.code).toBe(1);
    expect(a.stdout + a.stderr).toContain('failInfo: badRequest (2)');

    const wrongSize = await challenge({
      subject: 'CN=jws-device-3,OU=Devices,O=Example,C=US',
      keySize: 3072,
    });
    const b = await scepclient(app.scepUrl, { cn: 'jws-device-3', challenge: wrongSize });
    expect(b.code).toBe(1);
    expect(await app.waitForLog('key size 2048 does not match the challenge'), app.logs()).toBe(true);
  });
});
