import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertDelayLine } from './testing/delay-line.js';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { runIperf, startIperfServers, waitIperfServersIdle } from './testing/iperf3.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers('openconnect', 'ip', 'nft', 'tc', 'curl', 'iperf3');

const established = /Established DTLS connection \(using GnuTLS\)\. Ciphersuite ([^\n]+)\./g;

/** Gateway metrics as name{labels} → value. */
async function metrics(topology: VpnTopology): Promise<Map<string, number>> {
  const text = (await topology.exec(topology.gw, 'curl', ['-s', 'http://127.0.0.1:9090/metrics'])).stdout;
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(outpost_gateway_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+]+)$/gm))
    out.set(m[1]!, Number(m[2]));
  return out;
}

async function until(what: string, check: () => boolean, ms: number, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms / 1000} s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const dtlsCount = (vpn: OpenconnectSession) => [...vpn.output().matchAll(established)].length;

/**
 * 1% loss and 40 ms delay on the device's link: netem where the kernel has it, else a user-space
 * delay line (test/testing/delay-line.ts) with 1% loss and 20 ms each way; the report says which.
 */
async function lossyLink(topology: VpnTopology): Promise<{ description: string; remove(): Promise<void> }> {
  const tc = (...args: string[]) => topology.exec(topology.dev, 'tc', args);
  try {
    await tc('qdisc', 'add', 'dev', 'dev0', 'root', 'netem', 'loss', '1%', 'delay', '40ms');
    return {
      description: 'netem loss 1% delay 40ms',
      remove: () => tc('qdisc', 'del', 'dev', 'dev0', 'root').then(() => undefined),
    };
  } catch (e) {
    if (!/unknown/i.test(String(e))) throw e;
  }
  const line = await insertDelayLine(topology, { delayMs: 20, lossPercent: 1 });
  return {
    get description() {
      const { forwarded, dropped } = line.stats();
      return `${line.description}; ${forwarded} packets passed, ${dropped} dropped`;
    },
    remove: () => line.remove(),
  };
}

/**
 * The real openconnect (GnuTLS) with DTLS on, through Outpost: PSK-NEGOTIATE and the legacy
 * protocol over TLS 1.2 and 1.3 control channels, a checksummed transfer that the DTLS counters
 * show went over UDP, UDP blocked mid-transfer (the transfer finishes over TLS) and unblocked
 * (DTLS comes back), with one process and with two tunnel workers (each its own UDP port).
 */
describe.skipIf(!isRoot())('openconnect with DTLS through the Outpost gateway (needs root)', () => {
  for (const workers of [1, 2]) {
    describe(`gateway.workers ${workers}`, () => {
      let topology: VpnTopology;
      let app: GatewayAppliance;
      let certFile: string;
      let keyFile: string;

      beforeAll(async () => {
        topology = await VpnTopology.create();
        // The appliance's timers have dpd 5: DTLS DPD declares UDP dead after 10-15 s.
        app = await startGatewayAppliance(topology, { workers });
        ({ certFile, keyFile } = await enrollDevice(topology, app, `dtls-${workers}`));
      }, 120_000);
      afterAll(async () => {
        await app?.stop();
        await topology?.destroy();
      });

      const connect = (extraArgs: string[]) =>
        startOpenconnect(topology, {
          url: app.url,
          caFile: app.caFile,
          auth: { kind: 'certificate', certFile, keyFile },
          dtls: true,
          extraArgs,
        });

      it.each([
        // -v: openconnect then logs its DTLS MTU detection (padded DPD probes we echo on DTLS).
        ['PSK-NEGOTIATE', 'TLS 1.3', ['-v'], /\(DTLS1\.2\)-\(PSK\)-\(AES-128-GCM\)/],
        [
          'PSK-NEGOTIATE',
          'TLS 1.2',
          ['--gnutls-priority=NORMAL:-VERS-ALL:+VERS-TLS1.2'],
          /\(PSK\)-\(AES-128-GCM\)/,
        ],
        [
          'legacy OC-DTLS1_2-AES128-GCM',
          'TLS 1.3',
          ['--dtls-ciphers=OC-DTLS1_2-AES128-GCM'],
          /\(RSA\)-\(AES-128-GCM\)/,
        ],
        [
          'legacy ECDHE-RSA-AES256-GCM-SHA384 (X-DTLS12-CipherSuite)',
          'TLS 1.2',
          [
            '--gnutls-priority=NORMAL:-VERS-ALL:+VERS-TLS1.2',
            '--dtls-ciphers=',
            '--dtls12-ciphers=ECDHE-RSA-AES256-GCM-SHA384',
          ],
          /\(ECDHE-RSA\)-\(AES-256-GCM\)/,
        ],
      ] as const)(
        '%s over %s: DTLS established, a checksummed transfer goes over UDP',
        async (_mode, _tls, args, suite) => {
          const before = await metrics(topology);
          const vpn = await connect([...args]);
          try {
            await until('Established DTLS connection', () => dtlsCount(vpn) > 0, 20_000, vpn.output);
            expect(vpn.output()).toMatch(suite);
            if ((args as readonly string[]).includes('-v')) {
              // The probes came back at once: no 10 s "Too long time in MTU detect loop".
              expect(vpn.output()).toMatch(/No change in MTU after detection \(was 1434\)/);
            }
            const { sent, received } = await checksumTransfer(topology, 8);
            expect(received).toBe(sent);
            if (workers > 1) await new Promise((r) => setTimeout(r, 2500)); // workers report every 2 s
            const after = await metrics(topology);
            const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
            // The 8 MiB reached the client over UDP: nearly all bytes sent are DTLS bytes, and the
            // client's ACKs came back over DTLS too.
            expect(delta('outpost_gateway_dtls_sent_bytes_total')).toBeGreaterThan(8 * 2 ** 20);
            expect(
              delta('outpost_gateway_dtls_sent_bytes_total') / delta('outpost_gateway_sent_bytes_total'),
            ).toBeGreaterThan(0.95);
            expect(delta('outpost_gateway_dtls_received_packets_total')).toBeGreaterThan(100);
          } finally {
            await vpn.stop();
          }
        },
      );

      it.skipIf(workers > 1)(
        'UDP blocked mid-transfer: the transfer finishes over TLS; unblocked: DTLS comes back',
        async () => {
          const vpn = await connect([]);
          // In the gateway's namespace, so the client's sends succeed and vanish (a firewall on
          // the way), rather than failing at once with EPERM (openconnect would notice that
          // without its DPD).
          const nft = (...args: string[]) => topology.exec(topology.gw, 'nft', args);
          try {
            await until('Established DTLS connection', () => dtlsCount(vpn) > 0, 20_000, vpn.output);
            // 40 MiB at 4 MiB/s: still running when UDP goes.
            const transfer = checksumTransfer(topology, 40, 5001, topology.dev, VpnTopology.corpAddress, 4);
            await new Promise((r) => setTimeout(r, 2000));
            await nft('add', 'table', 'inet', 'dtlsblock');
            await nft('add', 'chain', 'inet', 'dtlsblock', 'in', '{ type filter hook input priority 0 ; }');
            await nft('add', 'rule', 'inet', 'dtlsblock', 'in', 'udp', 'dport', '443', 'drop');
            await nft('add', 'chain', 'inet', 'dtlsblock', 'out', '{ type filter hook output priority 0 ; }');
            await nft('add', 'rule', 'inet', 'dtlsblock', 'out', 'udp', 'sport', '443', 'drop');
            const { sent, received } = await transfer;
            expect(received).toBe(sent);
            expect(vpn.output()).toMatch(/DTLS Dead Peer Detection detected dead peer/);
            const blocked = await metrics(topology);
            expect(blocked.get('outpost_gateway_sessions')).toBe(1);
            await nft('delete', 'table', 'inet', 'dtlsblock');
            // openconnect retries DTLS every 60 s (main.c openconnect_setup_dtls(vpninfo, 60)).
            await until('DTLS again', () => dtlsCount(vpn) > 1, 90_000, vpn.output);
            const again = await checksumTransfer(topology, 4);
            expect(again.received).toBe(again.sent);
          } finally {
            await nft('delete', 'table', 'inet', 'dtlsblock').catch(() => undefined);
            await vpn.stop();
          }
        },
        240_000,
      );

      it.skipIf(workers > 1)(
        'a lossy link (1% loss, 40 ms): throughput over DTLS and over TLS, same run (reported)',
        async () => {
          await startIperfServers(topology, [5201]);
          const results: Record<string, number> = {};
          // Linux's default congestion control (and Android's) is CUBIC, loss-driven, where TCP
          // inside TCP suffers; this host defaults to BBR, which shrugs off random loss. A namespace
          // may only pick from tcp_allowed_congestion_control: CUBIC if listed, else Reno (also
          // loss-driven; always allowed).
          const namespaces = [topology.dev, topology.gw, topology.corp];
          const sysctl = (ns: string, ...args: string[]) =>
            topology.exec(ns, 'sysctl', args).then((r) => r.stdout.trim());
          const before = await sysctl(topology.dev, '-n', 'net.ipv4.tcp_congestion_control');
          const allowed = await sysctl(topology.dev, '-n', 'net.ipv4.tcp_allowed_congestion_control');
          const congestion = allowed.split(/\s+/).includes('cubic') ? 'cubic' : 'reno';
          const cc = (ns: string, name: string) =>
            sysctl(ns, '-qw', `net.ipv4.tcp_congestion_control=${name}`);
          for (const ns of namespaces) await cc(ns, congestion);
          const link = await lossyLink(topology);
          try {
            for (const [name, dtls] of [
              ['dtls', true],
              ['tls', false],
            ] as const) {
              const vpn = await startOpenconnect(topology, {
                url: app.url,
                caFile: app.caFile,
                auth: { kind: 'certificate', certFile, keyFile },
                dtls,
              });
              try {
                if (dtls)
                  await until('Established DTLS connection', () => dtlsCount(vpn) > 0, 30_000, vpn.output);
                await waitIperfServersIdle(topology, [5201]);
                const r = await runIperf({
                  ns: topology.dev,
                  port: 5201,
                  host: VpnTopology.corpAddress,
                  direction: 'down',
                  streams: 1,
                  seconds: 10,
                });
                expect(r.ok, r.error).toBe(true);
                results[name] = r.mbps;
              } finally {
                await vpn.stop();
              }
            }
          } finally {
            await link.remove();
            for (const ns of namespaces) await cc(ns, before).catch(() => undefined);
          }
          console.log(
            `lossy-link (${link.description}, TCP ${congestion}, iperf3 -R 10 s): dtls_down=${results.dtls?.toFixed(1)} Mbit/s tls_down=${results.tls?.toFixed(1)} Mbit/s`,
          );
          expect(results.dtls).toBeGreaterThan(0);
          expect(results.tls).toBeGreaterThan(0);
        },
        180_000,
      );
    });
  }
});
