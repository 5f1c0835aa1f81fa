import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'curl', 'openssl');

/**
 * Sends `megabytes` of random bytes from the dev namespace to the corp namespace (through the
 * tunnel, client to gateway) and returns the SHA-256 of what was sent and of what arrived.
 */
async function uploadWithChecksum(
  topology: VpnTopology,
  megabytes: number,
  port: number,
): Promise<{ sent: string; received: string }> {
  const server = topology.spawn(topology.corp, process.execPath, [
    '-e',
    `const h=require('crypto').createHash('sha256');const srv=require('net').createServer(s=>{s.on('data',d=>h.update(d));s.on('end',()=>{console.log(h.digest('hex'));s.end();srv.close()})}).listen(${port},'10.200.2.2',()=>console.log('ready'))`,
  ]);
  try {
    let buffered = '';
    let wake = () => {};
    server.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      wake();
    });
    const nextLine = () =>
      new Promise<string>((resolve, reject) => {
        const take = () => {
          const nl = buffered.indexOf('\n');
          if (nl < 0) return;
          wake = () => {};
          resolve(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        };
        wake = take;
        take();
        server.once('exit', () => reject(new Error('the receiver exited early')));
      });
    expect(await nextLine()).toBe('ready');
    const { stdout } = await topology.exec(
      topology.dev,
      process.execPath,
      [
        '-e',
        `const c=require('crypto');const b=c.randomBytes(${megabytes}<<20);const s=require('net').connect(${port},'10.200.2.2',()=>{s.end(b)});s.on('close',()=>console.log(c.createHash('sha256').update(b).digest('hex')))`,
      ],
      120_000,
    );
    return { sent: stdout.trim(), received: await nextLine() };
  } finally {
    server.kill();
  }
}

async function metric(topology: VpnTopology, pattern: RegExp): Promise<number> {
  const { stdout } = await topology.exec(topology.gw, 'curl', ['-s', 'http://127.0.0.1:9090/metrics']);
  return Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
}

// The tunnel leaves OpenSSL after CONNECT and runs on Outpost's own TLS record layer
// (gateway/tls). The real openconnect client (GnuTLS) must accept every record: checksummed
// transfers both ways prove the data path, the metrics and the log prove which record layer ran.
describe.skipIf(!isRoot())(
  'openconnect over Outpost’s TLS record layer (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;

    beforeAll(async () => {
      topology = await VpnTopology.create();
    }, 120_000);
    afterAll(async () => {
      await topology?.destroy();
    });

    describe.each([
      ['TLS 1.3 (default)', {}, 'TLSv1.3'],
      ['TLS 1.2', { tlsPolicy: { maxVersion: 'TLSv1.2' } }, 'TLSv1.2'],
    ])('%s', (_, gatewayConfig, version) => {
      let app: GatewayAppliance;
      let device: { certFile: string; keyFile: string };

      beforeAll(async () => {
        app = await startGatewayAppliance(topology, gatewayConfig);
        device = await enrollDevice(topology, app, `records-${version}`);
      }, 120_000);
      afterAll(async () => {
        await app?.stop();
      });

      it('moves 16 MB each way with intact checksums on the taken-over connection', async () => {
        const vpn = await startOpenconnect(topology, {
          url: app.url,
          caFile: app.caFile,
          auth: { kind: 'certificate', ...device },
        });
        try {
          const down = await checksumTransfer(topology, 16, 5003);
          expect(down.received).toBe(down.sent);
          const up = await uploadWithChecksum(topology, 16, 5004);
          expect(up.received).toBe(up.sent);
          expect(await metric(topology, /^outpost_gateway_tunnels_total\{records="outpost"\} (\d+)/m)).toBe(
            1,
          );
          expect(
            await metric(topology, /^outpost_gateway_tunnels_total\{records="openssl"\} (\d+)/m),
          ).toBeNaN();
          expect(app.logs()).toMatch(new RegExp(`"records":"outpost","tls":"${version} TLS_[A-Z0-9_]+"`));
          expect(vpn.child.exitCode).toBeNull();
        } finally {
          await vpn.stop();
        }
        // openconnect's SIGINT logout: a DISCONNECT frame, then close_notify both ways.
        for (let i = 0; i < 50 && !app.logs().includes('client close_notify'); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(app.logs()).toMatch(/"reason":"client logout".*session closed|session closed.*client logout/);
        expect(await metric(topology, /^outpost_gateway_tls_failures_total(?:\{[^}]*\})? (\d+)/m)).toBeNaN();
      });
    });
  },
);
