import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { type RunningSlapd, startSlapd } from './testing/slapd.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'iperf3', 'slapd', 'slapadd', 'slappasswd');

async function iperf(topology: VpnTopology): Promise<number> {
  const server = topology.spawn(topology.corp, 'iperf3', ['-s', '-1', '-B', '10.200.2.2']);
  await new Promise((r) => setTimeout(r, 500));
  const { stdout } = await topology.exec(
    topology.dev,
    'iperf3',
    ['-c', '10.200.2.2', '-t', '3', '-J'],
    30_000,
  );
  server.kill();
  return JSON.parse(stdout).end.sum_received.bits_per_second / 1e6;
}

// Password (LDAP bind as the user against a real slapd) and bearer-token (openconnect
// --token-mode=oidc) authentication with the real client, then real traffic through the tunnel.
describe.skipIf(!isRoot())('openconnect password and token auth (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let slapd: RunningSlapd;
  let work: string;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    slapd = await startSlapd({ netns: topology.gw });
    work = mkdtempSync(join(tmpdir(), 'outpost-auth-'));
  }, 60_000);
  /** The `directories.corp` entry pointing at the slapd fixture; its bind password as a 0600 file. */
  function corpDirectory() {
    const bindPasswordFile = join(work, 'bind-password');
    writeFileSync(bindPasswordFile, slapd.bindPassword, { mode: 0o600 });
    const { url, bindDn, baseDn } = slapd;
    return {
      directories: { corp: { url, bindDn, bindPasswordFile, baseDn, usernameAttribute: 'sAMAccountName' } },
    };
  }

  afterAll(async () => {
    await slapd?.stop();
    await topology?.destroy();
  });

  it('authenticates a directory user with the password, refuses a wrong one, and carries TCP and iperf3 traffic', async () => {
    const app = await startGatewayAppliance(
      topology,
      {
        auth: { methods: ['password'], password: { directory: 'corp' } },
      },
      corpDirectory(),
    );
    try {
      await expect(
        startOpenconnect(topology, {
          url: app.url,
          caFile: app.caFile,
          auth: { kind: 'password', user: 'alice', password: 'wrong' },
          timeoutMs: 10_000,
        }),
      ).rejects.toThrow(/Login failed|exited/);

      const vpn = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'password', user: 'alice', password: slapd.userPassword },
      });
      try {
        const { sent, received } = await checksumTransfer(topology, 4);
        expect(received).toBe(sent);
        const mbits = await iperf(topology);
        expect(mbits).toBeGreaterThan(1);
        const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
        expect(listed).toEqual([
          expect.objectContaining({
            user: 'alice',
            method: 'password',
            groups: expect.arrayContaining(['vpn-users']),
          }),
        ]);
      } finally {
        await vpn.stop();
      }
    } finally {
      await app.stop();
    }
  });

  it('lets a user pick a group they belong to (--authgroup) and refuses one they do not', async () => {
    const app = await startGatewayAppliance(
      topology,
      {
        auth: { methods: ['password'], password: { directory: 'corp' } },
        groups: {
          staff: { match: { groups: ['vpn-users'] }, dns: { servers: ['10.200.2.55'] } },
          admins: { match: { groups: ['pki-admins'] }, dns: { servers: ['10.200.2.56'] } },
        },
      },
      corpDirectory(),
    );
    const login = (group: string, timeoutMs?: number) =>
      startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'password', user: 'alice', password: slapd.userPassword },
        extraArgs: [`--authgroup=${group}`],
        ...(timeoutMs ? { timeoutMs } : {}),
      });
    try {
      await expect(login('admins', 10_000)).rejects.toThrow(/exited/);
      expect(app.logs()).toContain('You are not a member of group admins.');
      const vpn = await login('staff');
      try {
        expect(vpn.env.INTERNAL_IP4_DNS).toBe('10.200.2.55');
      } finally {
        await vpn.stop();
      }
    } finally {
      await app.stop();
    }
  });

  it('authenticates a bearer token signed by the configured JWKS (--token-mode=oidc)', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwksFile = join(work, 'jwks.json');
    writeFileSync(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(key.publicKey)), kid: 'idp-1', alg: 'ES256' }] }),
    );
    const app = await startGatewayAppliance(topology, {
      auth: {
        methods: ['token'],
        token: {
          jwks: jwksFile,
          issuer: 'https://idp.test',
          audience: 'outpost-gateway',
          usernameClaim: 'upn',
        },
      },
    });
    const token = (aud: string) =>
      new SignJWT({ upn: 'carol@corp.test' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
        .setIssuer('https://idp.test')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key.privateKey);
    try {
      await expect(
        startOpenconnect(topology, {
          url: app.url,
          caFile: app.caFile,
          auth: { kind: 'token', token: await token('someone-else') },
          timeoutMs: 10_000,
        }),
      ).rejects.toThrow();
      const vpn = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'token', token: await token('outpost-gateway') },
      });
      try {
        const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
        expect(ping.stdout).toContain('2 received');
        const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
        expect(listed).toEqual([expect.objectContaining({ user: 'carol@corp.test', method: 'token' })]);
      } finally {
        await vpn.stop();
      }
    } finally {
      await app.stop();
    }
  });
});
