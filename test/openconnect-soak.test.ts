import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DropCounters, dropDelta, readDropCounters } from './testing/drop-counters.js';
import { enrollDevice } from './testing/enroll-device.js';
import {
  type GatewayAppliance,
  gatewayWorkerPids,
  startGatewayAppliance,
} from './testing/gateway-appliance.js';
import {
  type IperfDirection,
  type IperfResult,
  type IperfServer,
  runIperf,
  startIperfServers,
  waitIperfServersIdle,
} from './testing/iperf3.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { run } from './testing/run.js';
import { checksumTransfer } from './testing/traffic.js';

// Sustained load and chaos, as an operator would soak a gateway before go-live (issue 10): four
// openconnect clients in four namespaces move iperf3 traffic at once (1, 4 and 16 TCP streams, up,
// down and --bidir, over IPv4 and IPv6, then UDP at a fixed rate) while a fifth client connects and
// disconnects in a loop and a sixth sends garbage CSTP frames on tunnels of its own. Afterwards
// nothing that should live has died: same appliance and worker processes, same sessions without a
// reconnect, intact checksummed transfers, RSS back near its start, and every UDP datagram the
// receivers missed is accounted for by a drop counter. Once with gateway.workers 1, once with 2.
// With workers 1 the steady clients carry their packets over DTLS (one UDP socket for all four:
// the burst pause of gateway/dtls/burst-pacer.ts holds the event loop for every client of it),
// with workers 2 over TLS, so each data path is soaked once.
//
// Each phase is one iperf3 run per client, all four at once. Within a phase the clients take
// different directions (client i runs DIRECTIONS[(i + s) % 3] in the s-th stream count), so every
// client goes up, down and both ways in each address family, and every (streams, direction,
// family) triple runs at least once per mode, in 6 TCP phases instead of 18.

const STEADY = 4;
/**
 * Bytes each gateway TUN takes from the clients in the volume phase: past 2^31, where the TUN
 * rings' free-running int32 positions go negative (gateway/tun/packet-ring.ts); the gateway once
 * died there with 'no open reservation' under a 4-stream upload. rx bytes of the TUN count IP
 * bytes, the ring positions advance by at least as much (entry headers, virtio-net headers).
 */
const VOLUME_TARGET = 2 ** 31 + (128 << 20);
const SECONDS = 2;
const STREAMS = [1, 4, 16] as const;
const DIRECTIONS: IperfDirection[] = ['up', 'down', 'bidir'];
const FAMILIES = [
  { name: 'v4', host: VpnTopology.corpAddress },
  { name: 'v6', host: VpnTopology.corpAddress6 },
] as const;
/**
 * UDP rate per client: 4 × 25 Mbit/s = 100 Mbit/s through the gateway, far below what one
 * openconnect sources over TLS here (≥ 1 Gbit/s of TCP per client on this 2-core machine), so a
 * datagram that goes missing was dropped by someone, not left unsent for lack of CPU.
 */
const UDP_RATE = '25M';
/**
 * Lost UDP datagrams no drop counter explains, as a fraction of those sent: iperf3 counts a
 * reordered datagram as lost until it arrives, and the last datagrams in flight when a run ends
 * are neither received nor lost, so a handful of stragglers is noise; 0.5% is not.
 */
const UNEXPLAINED_LOSS = 0.005;
/**
 * UDP datagrams the gateway itself may drop (its drop counters and its namespace's interfaces, TUNs
 * included), as a fraction of those sent: "near zero" at a rate the clients can source (ocserv
 * 1.5.0 fixed loss of this kind, its issue #423). What a busy receiver's socket drops on this
 * 2-core machine (the UDP counters of corp and dev) is explained but not the gateway's doing.
 */
const GATEWAY_LOSS = 0.01;
/**
 * RSS growth allowed per process after the load. What the data path holds is bounded by
 * configuration (8 MiB TUN rings, per-tunnel buffers and socket buffers of fixed size), and V8
 * keeps some of the heap it grew to under load: about 60 MiB measured here, for the primary with
 * workers 1 and for each worker with workers 2. Each of those processes moved more than 3 GiB
 * (over 2 million packets), so a leak of 64 bytes per packet, or of a few MiB per churned or
 * abusive tunnel (100 of them), would go past 150 MiB.
 */
const RSS_GROWTH_MIB = 150;
const CHURN_MAX_CYCLES = 40;
/**
 * Each abuser tunnel leaves a resumable session behind until its cookie expires
 * (gateway.timers.cookie, 60 s here), and gateway.limits.maxSessionsPerUser (16 by default) then
 * refuses the same user more: stay under it.
 */
const ABUSE_MAX_ROUNDS = 12;

const abuserScript = join(import.meta.dirname, 'testing', 'cstp-abuser.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ListedSession {
  id: string;
  user: string;
  state: string;
}

interface Phase {
  name: string;
  host: string;
  streams: number;
  udpRate?: string;
  /** Bytes for client i to send (-n) instead of SECONDS of sending. */
  bytes?: (client: number) => number;
  /** What client i runs, or null when it sits this phase out. */
  direction: (client: number) => IperfDirection | null;
}

function phases(): Phase[] {
  const list: Phase[] = [];
  for (const family of FAMILIES) {
    for (const [s, streams] of STREAMS.entries()) {
      list.push({
        name: `tcp-${family.name}-P${streams}`,
        host: family.host,
        streams,
        direction: (i) => DIRECTIONS[(i + s) % 3]!,
      });
    }
  }
  for (const family of FAMILIES) {
    for (const flip of [0, 1]) {
      list.push({
        name: `udp-${family.name}-${flip === 0 ? 'a' : 'b'}`,
        host: family.host,
        streams: 1,
        udpRate: UDP_RATE,
        direction: (i) => ((i + flip) % 2 === 0 ? 'up' : 'down'),
      });
    }
  }
  return list;
}

/** The appliance's DTLS counters without labels (outpost_gateway_dtls_*_total). */
async function dtlsCounters(topology: VpnTopology): Promise<Record<string, number>> {
  const metrics = await topology.exec(topology.gw, 'curl', ['-sf', 'http://127.0.0.1:9090/metrics']);
  return Object.fromEntries(
    [...metrics.stdout.matchAll(/^(outpost_gateway_dtls_[a-z_]+_total) (\d+)/gm)].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
}

function dtlsDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

/** Bytes the gateway wrote into each of its TUNs (outpost0, or outpost0w<n> per worker). */
async function tunRxBytes(topology: VpnTopology): Promise<Map<string, number>> {
  const links = JSON.parse((await topology.exec(topology.gw, 'ip', ['-j', '-s', 'link', 'show'])).stdout) as {
    ifname: string;
    stats64: { rx: { bytes: number } };
  }[];
  return new Map(
    links.filter((l) => /^outpost0(w\d+)?$/.test(l.ifname)).map((l) => [l.ifname, l.stats64.rx.bytes]),
  );
}

/** The lines of the appliance's log at warn level or above (pino: 40 and up). */
function warnLines(logs: string): string[] {
  return logs
    .split('\n')
    .filter((l) => /"level":(4|5|6)0/.test(l))
    .map((l) => l.slice(0, 600));
}

/** The lines of the appliance's log that say a process crashed (pino level 60 is fatal). */
function crashLines(logs: string): string[] {
  return logs
    .split('\n')
    .filter((l) => /"level":60|uncaught exception|unhandled rejection|gateway worker exited/i.test(l))
    .map((l) => l.slice(0, 600));
}

/**
 * Pings the corp address from a namespace whose tunnel just came up: vpnc-script adds the split
 * route after openconnect reported the connect, later still on a loaded machine, so wait for it.
 */
async function pingThroughTunnel(ns: string): Promise<{ ok: boolean; detail: string }> {
  for (let i = 0; i < 50; i++) {
    const route = await run('ip', ['netns', 'exec', ns, 'ip', 'route', 'get', VpnTopology.corpAddress]);
    if (route.stdout.includes('dev vpn0')) break;
    await sleep(200);
  }
  const ping = await run('ip', [
    'netns',
    'exec',
    ns,
    'ping',
    '-c',
    '3',
    '-i',
    '0.2',
    '-W',
    '3',
    VpnTopology.corpAddress,
  ]);
  return { ok: / [1-3] received/.test(ping.stdout), detail: (ping.stdout + ping.stderr).slice(-300) };
}

for (const workers of [1, 2]) {
  describe.skipIf(!isRoot())(
    `openconnect soak with gateway.workers ${workers} (needs root: network namespaces)`,
    () => {
      const dtls = workers === 1;
      const tag = `[soak workers=${workers} ${dtls ? 'dtls' : 'tls'}]`;
      let dtlsBefore: Record<string, number> = {};
      let topology: VpnTopology;
      let app: GatewayAppliance;
      let steadyNs: string[];
      let churnNs: string;
      let abuserNs: string;
      let certs: Record<string, { certFile: string; keyFile: string }>;
      const vpns: OpenconnectSession[] = [];
      let sessionsBefore: ListedSession[];
      let workersBefore: number[];
      let rssBefore: Map<number, number>;
      /** The gateway TUN that routes each steady client's IPv4 address. */
      let clientTun: string[];
      let iperfServers: IperfServer[];
      const churnCycles: { ok: boolean; detail: string }[] = [];
      const abuseRounds: { scenario?: string; closedAfterMs?: number; error?: string }[] = [];
      const udpRuns: { phase: string; results: IperfResult[]; drops: DropCounters }[] = [];
      let started = Date.now();

      const sessions = async (): Promise<ListedSession[]> => {
        const listed = await app.cli(['sessions', 'list', '--json']);
        expect(listed.code, listed.stderr).toBe(0);
        return JSON.parse(listed.stdout);
      };
      const users = Array.from({ length: STEADY }, (_, i) => `soak-steady-${i}`);
      const processes = async () => [app.pid, ...(await gatewayWorkerPids(topology))];

      beforeAll(async () => {
        started = Date.now();
        topology = await VpnTopology.create();
        await topology.addCorpIpv6();
        steadyNs = [topology.dev];
        for (let n = 2; n <= STEADY; n++) steadyNs.push(await topology.addDevice(n));
        churnNs = await topology.addDevice(STEADY + 1);
        abuserNs = await topology.addDevice(STEADY + 2);
        // Defaults as in the defect report (MTU 1472, default record layer) plus an IPv6 pool.
        app = await startGatewayAppliance(topology, {
          ...(workers > 1 ? { workers } : {}),
          pool: { ipv4: '10.200.100.0/24', ipv6: 'fd00:200::/112' },
          routes: { include: ['10.200.2.0/24', 'fd00:201::/64'] },
        });
        certs = {};
        for (const user of [...users, 'soak-churn', 'soak-abuser']) {
          certs[user] = await enrollDevice(topology, app, user);
        }
        iperfServers = await startIperfServers(
          topology,
          steadyNs.map((_, i) => 5201 + i),
        );
        for (const [i, ns] of steadyNs.entries()) {
          vpns.push(
            await startOpenconnect(topology, {
              url: app.url,
              caFile: app.caFile,
              auth: { kind: 'certificate', ...certs[users[i]!]! },
              ns,
              dtls,
            }),
          );
        }
        if (dtls) {
          for (let i = 0; i < 100 && !vpns.every((v) => /Established DTLS connection/.test(v.output())); i++)
            await sleep(200);
          dtlsBefore = await dtlsCounters(topology);
        }
        clientTun = [];
        for (const vpn of vpns) {
          const route = await topology.exec(topology.gw, 'ip', [
            '-4',
            'route',
            'get',
            vpn.env.INTERNAL_IP4_ADDRESS!,
          ]);
          clientTun.push(/ dev (\S+)/.exec(route.stdout)?.[1] ?? '?');
        }
        console.log(`${tag} clients on TUNs:`, clientTun);
        sessionsBefore = await sessions();
        workersBefore = await gatewayWorkerPids(topology);
        rssBefore = new Map((await processes()).map((pid) => [pid, rssMiB(pid)]));
        console.log(
          `${tag} set up in ${Date.now() - started} ms; RSS before (MiB):`,
          Object.fromEntries(rssBefore),
        );
      }, 180_000);

      afterAll(async () => {
        for (const vpn of vpns) await vpn.stop();
        await app?.stop();
        await topology?.destroy();
        console.log(`${tag} took ${Math.round((Date.now() - started) / 1000)} s`);
      });

      it('has four steady tunnels, each with an IPv4 and an IPv6 address', () => {
        expect(vpns).toHaveLength(STEADY);
        for (const vpn of vpns)
          expect(/Established DTLS connection/.test(vpn.output()), vpn.output().slice(-1500)).toBe(dtls);
        for (const vpn of vpns) {
          expect(vpn.env.INTERNAL_IP4_ADDRESS).toMatch(/^10\.200\.100\.\d+$/);
          expect(vpn.env.INTERNAL_IP6_ADDRESS).toMatch(/^fd00:200::[0-9a-f]+$/);
        }
        expect(
          sessionsBefore
            .filter((s) => s.state === 'connected')
            .map((s) => s.user)
            .sort(),
        ).toEqual(users);
        expect(workersBefore).toHaveLength(workers > 1 ? workers : 0);
      });

      it('carries TCP and UDP load on all tunnels at once while a client churns and another sends garbage', async () => {
        let loadDone = false;
        let volume = new Map<string, number>();
        const churn = (async () => {
          for (let i = 0; i < CHURN_MAX_CYCLES && !loadDone; i++) {
            try {
              const vpn = await startOpenconnect(topology, {
                url: app.url,
                caFile: app.caFile,
                auth: { kind: 'certificate', ...certs['soak-churn']! },
                ns: churnNs,
              });
              const ping = await pingThroughTunnel(churnNs);
              await vpn.stop();
              churnCycles.push(ping);
            } catch (e) {
              churnCycles.push({ ok: false, detail: String(e).slice(0, 500) });
            }
          }
        })();
        const abuse = (async () => {
          const c = certs['soak-abuser']!;
          for (let i = 0; i < ABUSE_MAX_ROUNDS && !loadDone; i++) {
            const r = await run(
              'ip',
              [
                'netns',
                'exec',
                abuserNs,
                process.execPath,
                abuserScript,
                VpnTopology.gatewayAddress,
                '443',
                app.caFile,
                c.certFile,
                c.keyFile,
                'garbage frames',
              ],
              { timeoutMs: 60_000 },
            );
            abuseRounds.push(
              r.stdout.trim()
                ? JSON.parse(r.stdout.trim())
                : { error: `exit ${r.code}: ${r.stderr.slice(0, 300)}` },
            );
          }
        })();
        /** One iperf3 run per taking part client, all at once; fails the test if one failed. */
        const runPhase = async (phase: Phase): Promise<IperfResult[]> => {
          const clients = steadyNs.flatMap((ns, i) => {
            const direction = phase.direction(i);
            return direction ? [{ ns, i, direction }] : [];
          });
          await waitIperfServersIdle(
            topology,
            steadyNs.map((_, i) => 5201 + i),
          );
          const results = await Promise.all(
            clients.map(({ ns, i, direction }) =>
              runIperf({
                ns,
                port: 5201 + i,
                host: phase.host,
                direction,
                streams: phase.streams,
                seconds: SECONDS,
                ...(phase.bytes ? { bytes: phase.bytes(i) } : {}),
                ...(phase.udpRate ? { udpRate: phase.udpRate } : {}),
              }),
            ),
          );
          console.log(
            `${tag} ${phase.name}: ` +
              results
                .map(
                  (r, k) =>
                    `c${clients[k]!.i} ${clients[k]!.direction} ${r.ok ? `${r.mbps.toFixed(0)} Mbit/s` : `FAILED (${r.error})`}` +
                    (phase.udpRate ? ` lost ${r.lostPackets}/${r.packets}` : ` retr ${r.retransmits}`),
                )
                .join(', '),
          );
          // A crash fails here with the log lines that say which process died and why.
          const crashed = crashLines(app.logs());
          if (app.exited() || crashed.length > 0) {
            const who = app.exited() ? 'the appliance died' : 'a gateway process crashed';
            throw new Error(`${who} during ${phase.name}:\n${crashed.join('\n')}`);
          }
          for (const [k, r] of results.entries()) {
            const { i, direction } = clients[k]!;
            // What the iperf3 server and the gateway said, to tell a tunnel fault from a tool's.
            if (r.error) {
              throw new Error(
                `${phase.name} client ${i} (${direction}): ${r.error}\n` +
                  `iperf3 server: ${iperfServers[i]!.output().slice(-1000)}\n` +
                  `gateway warnings: ${warnLines(app.logs()).slice(-10).join('\n')}`,
              );
            }
            expect(r.receivedBytes, `${phase.name} client ${i}`).toBeGreaterThan(0);
          }
          return results;
        };
        try {
          // Volume first: a 4-stream upload from every client until each TUN that carries a steady
          // client went past the int32 wrap of its ring positions (normally one round).
          for (let round = 1; round <= 3; round++) {
            const rx = await tunRxBytes(topology);
            const left = (i: number) => VOLUME_TARGET - (rx.get(clientTun[i]!) ?? 0);
            const sharing = (i: number) => clientTun.filter((t) => t === clientTun[i]).length;
            if (clientTun.every((_, i) => left(i) <= 0)) break;
            await runPhase({
              name: `volume-tcp-v4-up-P4 round ${round}`,
              host: VpnTopology.corpAddress,
              streams: 4,
              direction: (i) => (left(i) > 0 ? 'up' : null),
              bytes: (i) => Math.ceil(left(i) / sharing(i)) + (16 << 20),
            });
          }
          volume = await tunRxBytes(topology);
          console.log(
            `${tag} volume: bytes into each TUN`,
            Object.fromEntries([...volume].map(([t, b]) => [t, `${(b / 2 ** 30).toFixed(2)} GiB`])),
          );
          for (const phase of phases()) {
            const dropsBefore = phase.udpRate
              ? await readDropCounters(topology, [topology.gw, topology.corp, ...steadyNs])
              : {};
            const results = await runPhase(phase);
            if (phase.udpRate) {
              await sleep(2500); // workers report their counters to the primary every 2 s
              const dropsAfter = await readDropCounters(topology, [topology.gw, topology.corp, ...steadyNs]);
              udpRuns.push({ phase: phase.name, results, drops: dropDelta(dropsBefore, dropsAfter) });
            }
          }
        } finally {
          loadDone = true;
          await Promise.all([churn, abuse]);
        }
        console.log(
          `${tag} churn: ${churnCycles.length} connect/disconnect cycles; abuser: ${abuseRounds.length} garbage tunnels`,
        );
        expect(churnCycles.filter((c) => !c.ok)).toEqual([]);
        expect(churnCycles.length).toBeGreaterThan(0);
        for (const round of abuseRounds) {
          expect(round.error, JSON.stringify(round)).toBeUndefined();
          expect(round.closedAfterMs, JSON.stringify(round)).toBeGreaterThanOrEqual(0);
        }
        expect(abuseRounds.length).toBeGreaterThan(0);
        for (const tun of new Set(clientTun))
          expect(volume.get(tun), tun).toBeGreaterThanOrEqual(VOLUME_TARGET);
        if (dtls) {
          // The downloads went over UDP (not back to TLS), and how often the burst pause held the loop.
          const moved = dtlsDelta(dtlsBefore, await dtlsCounters(topology));
          console.log(`${tag} DTLS counters during the load:`, JSON.stringify(moved));
          expect(moved.outpost_gateway_dtls_sent_bytes_total).toBeGreaterThan(256 * 2 ** 20);
          expect(moved.outpost_gateway_dtls_received_bytes_total).toBeGreaterThan(2 ** 31);
        }
      }, 300_000);

      it('kept every steady tunnel, session and process; only the abuser tunnels were closed', async () => {
        expect(app.exited(), crashLines(app.logs()).join('\n')).toBe(false);
        expect(crashLines(app.logs())).toEqual([]);
        expect(await gatewayWorkerPids(topology)).toEqual(workersBefore);
        for (const [i, vpn] of vpns.entries()) {
          expect(vpn.child.exitCode, vpn.output().slice(-2000)).toBeNull();
          // openconnect runs vpnc-script with reason=reconnect after it re-established a tunnel.
          expect(existsSync(join(vpn.envDir, 'env.reconnect')), `client ${i} reconnected`).toBe(false);
        }
        const after = await sessions();
        for (const user of users) {
          const before = sessionsBefore.find((s) => s.user === user)!;
          const now = after.filter((s) => s.user === user);
          expect(
            now.map((s) => [s.id, s.state]),
            user,
          ).toEqual([[before.id, 'connected']]);
        }
        const others = after.filter((s) => !users.includes(s.user));
        expect(others.filter((s) => s.state === 'connected')).toEqual([]);
        const transfers = await Promise.all(
          steadyNs.map((ns, i) => checksumTransfer(topology, 16, 5011 + i, ns)),
        );
        for (const t of transfers) expect(t.received).toBe(t.sent);
      }, 120_000);

      it('returns RSS near its start', async () => {
        await sleep(3000);
        const rssAfter = new Map((await processes()).map((pid) => [pid, rssMiB(pid)]));
        console.log(
          `${tag} RSS after (MiB):`,
          Object.fromEntries(rssAfter),
          `allowed: before + ${RSS_GROWTH_MIB}`,
        );
        for (const [pid, before] of rssBefore) {
          expect(rssAfter.get(pid), `pid ${pid}`).toBeLessThan(before + RSS_GROWTH_MIB);
        }
      });

      it('explains every lost UDP datagram with a drop counter', () => {
        expect(udpRuns).toHaveLength(4);
        for (const { phase, results, drops } of udpRuns) {
          const sent = results.reduce((n, r) => n + r.packets, 0);
          const lost = results.reduce((n, r) => n + r.lostPackets, 0);
          // Garbage from the abuser is dropped as spoofed or malformed; no iperf3 datagram is either.
          const explained = Object.entries(drops)
            .filter(([key]) => key !== 'gateway/spoofed' && key !== 'gateway/malformed')
            .reduce((n, [, v]) => n + v, 0);
          const byGateway = Object.entries(drops)
            .filter(([key]) => key.startsWith('gateway/') || key.startsWith(`${topology.gw}/`))
            .filter(([key]) => key !== 'gateway/spoofed' && key !== 'gateway/malformed')
            .reduce((n, [, v]) => n + v, 0);
          console.log(
            `${tag} ${phase}: ${lost} of ${sent} datagrams lost, ${byGateway} dropped by the gateway; drop counters:`,
            JSON.stringify(drops),
          );
          expect(sent).toBeGreaterThan(0);
          expect(byGateway, `${phase}: dropped by the gateway`).toBeLessThanOrEqual(
            Math.ceil(sent * GATEWAY_LOSS),
          );
          expect(
            lost - explained,
            `${phase}: lost ${lost} of ${sent}, counters ${JSON.stringify(drops)}`,
          ).toBeLessThanOrEqual(Math.ceil(sent * UNEXPLAINED_LOSS));
        }
      });
    },
  );
}
