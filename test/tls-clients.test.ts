import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { requirePeers } from './testing/peers.js';

requirePeers('curl', 'gnutls-cli', 'openssl', 'scepclient', 'ip', 'sysctl');

/**
 * The gateway's TLS as other stacks see it: curl (OpenSSL), gnutls-cli (GnuTLS) and openssl
 * s_client, from the device namespace, with and without a client certificate (the gateway asks
 * for one: certificate auth is on). Issue 10: resumed sessions ended in alert 80 internal_error,
 * renegotiation was unlimited, and CBC/CCM/ARIA suites were offered.
 */
describe.skipIf(!isRoot())(
  'gateway TLS seen by curl, gnutls-cli and openssl (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;
    let device: { certFile: string; keyFile: string };

    beforeAll(async () => {
      topology = await VpnTopology.create();
      // One TLS 1.3 ticket per handshake, so that TLS 1.3 clients can resume (the default sends
      // none: the last test reloads to it).
      app = await startGatewayAppliance(topology, { tlsPolicy: { tls13Tickets: 1 } });
      device = await enrollDevice(topology, app, 'tls-probe');
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await topology?.destroy();
    });

    /** A shell line in the dev namespace; never throws, returns the exit code and both outputs. */
    async function sh(line: string): Promise<{ code: number; out: string }> {
      try {
        const { stdout, stderr } = await topology.exec(topology.dev, 'bash', ['-c', `${line} 2>&1`], 30_000);
        return { code: 0, out: stdout + stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return {
          code: typeof err.code === 'number' ? err.code : 1,
          out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
        };
      }
    }

    /** TLS 1.3 NewSessionTicket messages s_client reports. */
    const ticketsIn = (out: string) => out.match(/Post-Handshake New Session Ticket arrived/g)?.length ?? 0;

    const url = 'https://10.200.1.1/';
    const versions = [
      ['TLS 1.2', '--tlsv1.2 --tls-max 1.2', '-VERS-ALL:+VERS-TLS1.2', '-tls1_2'],
      ['TLS 1.3', '--tlsv1.3 --tls-max 1.3', '-VERS-ALL:+VERS-TLS1.3 --waitresumption', '-tls1_3'],
    ] as const;
    const identities = [
      ['without a client certificate', () => ({ curl: '', gnutls: '', openssl: '' })],
      [
        'with a client certificate',
        () => ({
          curl: `--cert ${device.certFile} --key ${device.keyFile}`,
          gnutls: `--x509certfile ${device.certFile} --x509keyfile ${device.keyFile}`,
          openssl: `-cert ${device.certFile} -key ${device.keyFile}`,
        }),
      ],
    ] as const;

    for (const [version, curlVersion, gnutlsDrop, opensslVersion] of versions) {
      for (const [who, identity] of identities) {
        it(`curl resumes on its second request, ${version}, ${who}`, async () => {
          const id = identity();
          const r = await sh(
            `curl -sv -o /dev/null -o /dev/null -H 'Connection: close' -w 'status %{http_code}\\n' ${curlVersion} --cacert ${app.caFile} ${id.curl} ${url} ${url}`,
          );
          expect(r.out).not.toMatch(/alert internal error/);
          expect(r.out.match(/^status 200$/gm), r.out).toHaveLength(2);
          expect(r.out, r.out).toMatch(/SSL re-using session ID|Reusing session|reusing session/i);
        });

        it(`gnutls-cli --resume gets a resumed session, ${version}, ${who}`, async () => {
          const id = identity();
          const r = await sh(
            `gnutls-cli --resume --x509cafile ${app.caFile} ${id.gnutls} --priority NORMAL:${gnutlsDrop} -p 443 10.200.1.1 </dev/null`,
          );
          expect(r.out, r.out).toContain('This is a resumed session');
          expect(r.out).not.toMatch(/Internal error/i);
        });

        it(`openssl s_client resumes with -sess_out/-sess_in, ${version}, ${who}`, async () => {
          const id = identity();
          const session = `/tmp/outpost-tls-${process.pid}-${opensslVersion}-${id.openssl ? 'cert' : 'anon'}.pem`;
          const base = `openssl s_client -connect 10.200.1.1:443 ${opensslVersion} -CAfile ${app.caFile} ${id.openssl}`;
          // TLS 1.3 tickets come after the handshake: keep the first connection open a moment.
          const first = await sh(`(sleep 1) | ${base} -sess_out ${session}`);
          const r = await sh(`(sleep 1) | ${base} -sess_in ${session}; rm -f ${session}`);
          expect(r.out, r.out).toMatch(/^Reused, TLSv1\.[23]/m);
          if (version === 'TLS 1.3') expect(ticketsIn(first.out), first.out).toBe(1);
        });
      }
    }

    it('openssl s_client: a client-initiated TLS 1.2 renegotiation is refused', async () => {
      // s_client renegotiates when it reads a line "R" (then keeps reading; the sleep keeps it open).
      const r = await sh(
        `(sleep 1; echo R; sleep 2) | openssl s_client -connect 10.200.1.1:443 -tls1_2 -CAfile ${app.caFile}`,
      );
      expect(r.out).toContain('RENEGOTIATING');
      expect(r.out, r.out).toMatch(/no renegotiation/i);
    });

    it.each([
      ['AES-CBC (LUCKY13)', 'ECDHE-ECDSA-AES128-SHA256'],
      ['AES-CBC SHA-1', 'ECDHE-ECDSA-AES256-SHA'],
      ['AES-CCM', 'ECDHE-ECDSA-AES128-CCM'],
      ['AES-CCM-8', 'ECDHE-ECDSA-AES256-CCM8'],
      ['ARIA-GCM', 'ECDHE-ECDSA-ARIA256-GCM-SHA384'],
      ['static RSA GCM', 'AES128-GCM-SHA256'],
    ])('openssl s_client: %s is not negotiated', async (_, cipher) => {
      const r = await sh(
        `openssl s_client -connect 10.200.1.1:443 -tls1_2 -cipher ${cipher} -CAfile ${app.caFile} </dev/null`,
      );
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toMatch(/handshake failure|no cipher/i);
    });

    it.each([
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
    ])('openssl s_client: %s is negotiated', async (cipher) => {
      const r = await sh(
        `openssl s_client -connect 10.200.1.1:443 -tls1_2 -cipher ${cipher} -CAfile ${app.caFile} </dev/null`,
      );
      expect(r.out, r.out).toMatch(new RegExp(`Cipher is ${cipher}`));
    });

    it('a ban is visible: logged when made and when it refuses, listed by `sessions bans`, lifted by `sessions unban`', async () => {
      // Failed logins (no certificate) from the device until the address is banned (ocserv's
      // defaults: 10 points each, ban at 80), then a valid certificate is refused until unbanned.
      const get = (extra: string) =>
        sh(`curl -s -o /dev/null -w '%{http_code}' --cacert ${app.caFile} ${extra} ${url}`).then((r) =>
          r.out.trim(),
        );
      const statuses: string[] = [];
      for (let i = 0; i < 12 && statuses.at(-1) !== '403'; i++) statuses.push(await get(''));
      expect(statuses.at(-1), statuses.join(' ')).toBe('403');
      const withCertificate = `--cert ${device.certFile} --key ${device.keyFile}`;
      expect(await get(withCertificate)).toBe('403');
      const logs = app.logs();
      expect(logs).toMatch(/"remote":"10\.200\.1\.2","points":\d+,"until":"[^"]+","msg":"address banned/);
      expect(logs).toMatch(/"remote":"(::ffff:)?10\.200\.1\.2","msg":"refused: the address is banned/);
      const listed = await app.cli(['sessions', 'bans', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([
        { address: '10.200.1.2', score: expect.any(Number), until: expect.any(String) },
      ]);
      const lifted = await app.cli(['sessions', 'unban', '10.200.1.2']);
      expect(lifted.stdout).toContain('ban on 10.200.1.2 lifted');
      expect(await get(withCertificate)).toBe('200');
      expect(JSON.parse((await app.cli(['sessions', 'bans', '--json'])).stdout)).toEqual([]);
    });

    // Last: it reloads the appliance to the default TLS policy.
    it('the default tls13Tickets (0), applied by SIGHUP: no TLS 1.3 ticket, TLS 1.2 still resumes', async () => {
      const tree = parse(readFileSync(app.configFile, 'utf8')) as { gateway: Record<string, unknown> };
      delete tree.gateway.tlsPolicy;
      writeFileSync(app.configFile, stringify(tree));
      app.signal('SIGHUP');
      for (let i = 0; i < 100 && !app.logs().includes('configuration applied'); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(app.logs()).toContain('configuration applied');
      const id = `-cert ${device.certFile} -key ${device.keyFile}`;
      const session = `/tmp/outpost-tls-${process.pid}-default.pem`;
      const base = `openssl s_client -connect 10.200.1.1:443 -CAfile ${app.caFile} ${id}`;
      const tls13 = await sh(`(sleep 1) | ${base} -tls1_3 -sess_out ${session}; ls ${session}`);
      expect(tls13.out, tls13.out).toMatch(/^New, TLSv1\.3/m);
      expect(ticketsIn(tls13.out), tls13.out).toBe(0);
      expect(tls13.out).toMatch(/No such file/); // s_client saves a TLS 1.3 session only from a ticket
      await sh(`(sleep 1) | ${base} -tls1_2 -sess_out ${session}`);
      const tls12 = await sh(`(sleep 1) | ${base} -tls1_2 -sess_in ${session}; rm -f ${session}`);
      expect(tls12.out, tls12.out).toMatch(/^Reused, TLSv1\.2/m);
    });
  },
);
