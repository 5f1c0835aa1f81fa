import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'openssl');

/** A server certificate for 10.200.1.1 signed by a throw-away CA, as a PKCS#12 file. */
async function serverPkcs12(dir: string, name: string, caKey: string, caCert: string): Promise<string> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:10.200.1.1\nextendedKeyUsage=serverAuth\n');
  await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-subj',
    `/CN=${name}`,
    '-out',
    csr,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  const p12 = join(dir, `${name}.p12`);
  await openssl([
    'pkcs12',
    '-export',
    '-inkey',
    key,
    '-in',
    cert,
    '-certfile',
    caCert,
    '-passout',
    'pass:p12-secret',
    '-out',
    p12,
  ]);
  return p12;
}

// The gateway's certificate from a PKCS#12 file, replaced while a client is connected: new
// handshakes get the new certificate, the connected tunnel carries on.
describe.skipIf(!isRoot())(
  'gateway TLS from PKCS#12 with hot reload (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;
    let dir: string;
    let caCert: string;
    let caKey: string;
    let p12: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'outpost-p12-'));
      caKey = join(dir, 'ca.key');
      caCert = join(dir, 'ca.pem');
      await openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        caKey,
        '-subj',
        '/CN=TLS test CA',
        '-days',
        '30',
        '-out',
        caCert,
      ]);
      p12 = join(dir, 'gateway.p12');
      renameSync(await serverPkcs12(dir, 'first', caKey, caCert), p12);
      writeFileSync(join(dir, 'p12-password'), 'p12-secret\n', { mode: 0o600 });
      topology = await VpnTopology.create();
      app = await startGatewayAppliance(topology, {
        tls: { pkcs12: p12, passwordFile: join(dir, 'p12-password') },
      });
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await topology?.destroy();
    });

    async function servedSubject(): Promise<string> {
      const { stdout } = await topology.exec(topology.dev, 'bash', [
        '-c',
        'openssl s_client -connect 10.200.1.1:443 -servername 10.200.1.1 </dev/null 2>/dev/null | openssl x509 -noout -subject',
      ]);
      return stdout.trim();
    }

    it('serves the PKCS#12 certificate, then the replacement, without dropping the tunnel', async () => {
      expect(await servedSubject()).toContain('CN = first');
      const device = await enrollDevice(topology, app, 'tls-watcher');
      const vpn = await startOpenconnect(topology, {
        url: app.url,
        caFile: caCert,
        auth: { kind: 'certificate', ...device },
      });
      try {
        renameSync(await serverPkcs12(dir, 'second', caKey, caCert), p12);
        let subject = '';
        for (let i = 0; i < 30 && !subject.includes('second'); i++) {
          await new Promise((r) => setTimeout(r, 500));
          subject = await servedSubject();
        }
        expect(subject).toContain('CN = second');
        expect(app.logs()).toContain('gateway TLS certificate reloaded');
        const ping = await topology.exec(topology.dev, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
        expect(ping.stdout).toContain('2 received');
        expect(vpn.child.exitCode).toBeNull();
      } finally {
        await vpn.stop();
      }
    });
  },
);
