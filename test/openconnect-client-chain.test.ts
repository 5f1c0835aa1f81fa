import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { openssl } from './testing/run.js';

requirePeers('openconnect', 'openssl', 'ip', 'sysctl', 'curl');

/**
 * A company PKI with an issuing CA under its root: the gateway trusts the root only, and the device
 * certificate comes from the intermediate, which openconnect sends after the leaf (its certificate
 * file holds both). Node 20's first getPeerX509Certificate() takes that intermediate out of the
 * connection, so a second read sees the leaf alone; the gateway once read it twice and refused
 * such devices with "no trusted issuer" (d9e85b0).
 */
async function companyPki(dir: string): Promise<{ rootFile: string; certFile: string; keyFile: string }> {
  const file = (name: string) => join(dir, name);
  const ext = (name: string, lines: string[]) => {
    writeFileSync(file(name), `${lines.join('\n')}\n`);
    return file(name);
  };
  const caExt = ext('ca.ext', [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ]);
  const leafExt = ext('leaf.ext', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ]);
  const key = (name: string) =>
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name)]);
  await key('root.key');
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    file('root.key'),
    '-subj',
    '/O=Corp Test/CN=Corp Root CA',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    file('root.pem'),
  ]);
  const issue = async (name: string, subject: string, issuer: string, extFile: string) => {
    await key(`${name}.key`);
    await openssl([
      'req',
      '-new',
      '-key',
      file(`${name}.key`),
      '-subj',
      subject,
      '-out',
      file(`${name}.csr`),
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file(`${issuer}.pem`),
      '-CAkey',
      file(`${issuer}.key`),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      extFile,
      '-out',
      file(`${name}.pem`),
    ]);
  };
  await issue('issuing', '/O=Corp Test/CN=Corp Issuing CA 1', 'root', caExt);
  await issue('device', '/O=Corp Test/CN=tablet-12', 'issuing', leafExt);
  const certFile = file('device-chain.pem');
  writeFileSync(
    certFile,
    readFileSync(file('device.pem'), 'utf8') + readFileSync(file('issuing.pem'), 'utf8'),
  );
  return { rootFile: file('root.pem'), certFile, keyFile: file('device.key') };
}

describe.skipIf(!isRoot())(
  'openconnect with a certificate from an intermediate CA (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;
    let pki: { rootFile: string; certFile: string; keyFile: string };

    beforeAll(async () => {
      pki = await companyPki(mkdtempSync(join(tmpdir(), 'outpost-chain-pki-')));
      topology = await VpnTopology.create();
      app = await startGatewayAppliance(topology, {
        auth: { methods: ['certificate'], certificate: { ca: pki.rootFile, usernameFrom: 'cn' } },
      });
    }, 120_000);

    afterAll(async () => {
      await app?.stop();
      await topology?.destroy();
    });

    it('logs in with leaf + issuing CA against a gateway that trusts only the root', async () => {
      const vpn = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'certificate', certFile: pki.certFile, keyFile: pki.keyFile },
      });
      try {
        expect(vpn.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.200\.100\.\d+$/);
        const listed = JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);
        expect(listed).toEqual([
          expect.objectContaining({ user: 'tablet-12', method: 'certificate', state: 'connected' }),
        ]);
      } finally {
        await vpn.stop();
      }
    });
  },
);
