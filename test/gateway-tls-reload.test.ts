import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki } from '../certs/testing/test-pki.js';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'openssl');

/** A server certificate for 10.200.1.1 signed by the throw-away CA, as a PKCS#12 file. */
function serverPkcs12(pki: TestPki, name: string): string {
  pki.issue(name, {
    issuer: 'ca',
    subject: `/CN=${name}`,
    days: 30,
    extensions: ['subjectAltName=IP:10.200.1.1', 'extendedKeyUsage=serverAuth'],
  });
  pki.pkcs12(name, 'p12-secret', ['-certfile', 'ca.pem']);
  return pki.path(`${name}.p12`);
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
    let pki: TestPki;
    let p12: string;

    beforeAll(async () => {
      pki = new TestPki({ prefix: 'outpost-p12-' });
      dir = pki.dir;
      caCert = pki.path('ca.pem');
      pki.selfSigned('ca', { subject: '/CN=TLS test CA', days: 30 });
      p12 = join(dir, 'gateway.p12');
      renameSync(serverPkcs12(pki, 'first'), p12);
      writeFileSync(join(dir, 'p12-password'), 'p12-secret\n', { mode: 0o600 });
      topology = await VpnTopology.create();
      app = await startGatewayAppliance(topology, {
        tls: { pkcs12: p12, passwordFile: join(dir, 'p12-password') },
      });
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await topology?.destroy();
      pki?.cleanup();
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
        renameSync(serverPkcs12(pki, 'second'), p12);
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
