import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import {
  type GatewayAppliance,
  gatewayWorkerPids,
  startGatewayAppliance,
} from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { type OpenconnectSession, startOpenconnect } from './testing/openconnect.js';
import { requirePeers } from './testing/peers.js';
import { checksumTransfer } from './testing/traffic.js';

requirePeers('openconnect', 'ip', 'sysctl', 'ping', 'curl');

interface ListedSession {
  user: string;
  state: string;
  ipv4: string;
  worker: number | null;
  bytesIn: number;
  bytesOut: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker (0 or 1) whose TUN an address of 10.200.100.0/24 is routed to, from `ip route`. */
async function routedWorker(topology: VpnTopology, address: string): Promise<string> {
  const { stdout } = await topology.exec(topology.gw, 'ip', ['-4', 'route', 'get', address]);
  return /dev (\S+)/.exec(stdout)?.[1] ?? '?';
}

// gateway.workers: 2 with the real openconnect, two clients in two namespaces: the primary
// authenticates and answers CONNECT, then each tunnel's socket and record keys move to the worker
// whose TUN routes the session's address block.
describe.skipIf(!isRoot())(
  'openconnect through gateway tunnel workers (needs root: network namespaces)',
  () => {
    let topology: VpnTopology;
    let app: GatewayAppliance;
    let dev2: string;
    let a: { certFile: string; keyFile: string };
    let b: { certFile: string; keyFile: string };
    let vpnA: OpenconnectSession | undefined;
    let vpnB: OpenconnectSession | undefined;

    const sessions = async (): Promise<ListedSession[]> =>
      JSON.parse((await app.cli(['sessions', 'list', '--json'])).stdout);

    beforeAll(async () => {
      topology = await VpnTopology.create();
      dev2 = await topology.addDevice(2);
      app = await startGatewayAppliance(topology, { workers: 2 });
      a = await enrollDevice(topology, app, 'worker-laptop-a');
      b = await enrollDevice(topology, app, 'worker-laptop-b');
    }, 120_000);

    afterAll(async () => {
      await vpnA?.stop();
      await vpnB?.stop();
      await app?.stop();
      await topology?.destroy();
    });

    it('spreads two clients over two workers, each with its own TUN, and moves their traffic', async () => {
      const tuns = (await topology.exec(topology.gw, 'ip', ['-o', 'link', 'show'])).stdout;
      expect(tuns).toContain('outpost0w0');
      expect(tuns).toContain('outpost0w1');
      expect(tuns).not.toMatch(/outpost0:/);

      vpnA = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'certificate', ...a },
      });
      vpnB = await startOpenconnect(topology, {
        url: app.url,
        caFile: app.caFile,
        auth: { kind: 'certificate', ...b },
        ns: dev2,
      });
      const addressA = vpnA.env.INTERNAL_IP4_ADDRESS!;
      const addressB = vpnB.env.INTERNAL_IP4_ADDRESS!;
      // Clients are told the whole pool's netmask; the blocks are the gateway's own business.
      expect(vpnA.env.INTERNAL_IP4_NETMASK).toBe('255.255.255.0');
      const devices = new Set([
        await routedWorker(topology, addressA),
        await routedWorker(topology, addressB),
      ]);
      expect(devices).toEqual(new Set(['outpost0w0', 'outpost0w1']));

      for (const ns of [topology.dev, dev2]) {
        const ping = await topology.exec(ns, 'ping', ['-c', '3', '-W', '2', '10.200.2.2']);
        expect(ping.stdout).toContain('3 received');
      }
      const [one, two] = await Promise.all([
        checksumTransfer(topology, 8, 5001, topology.dev),
        checksumTransfer(topology, 8, 5002, dev2),
      ]);
      expect(one.received).toBe(one.sent);
      expect(two.received).toBe(two.sent);

      // Counters come from the workers every 2 s; the primary serves them.
      await sleep(2500);
      const listed = await sessions();
      expect(listed.map((s) => s.state)).toEqual(['connected', 'connected']);
      // Each session names the worker whose TUN routes its address.
      for (const s of listed) expect(`outpost0w${s.worker}`).toBe(await routedWorker(topology, s.ipv4));
      for (const s of listed) expect(s.bytesOut).toBeGreaterThan(8 << 20);
      const metrics = (await topology.exec(topology.gw, 'curl', ['-s', 'http://127.0.0.1:9090/metrics']))
        .stdout;
      expect(metrics).toMatch(/^outpost_gateway_tunnels_total\{records="outpost"\} 2$/m);
      expect(Number(/^outpost_gateway_sent_bytes_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(16 << 20);
    }, 120_000);

    it('loses only the tunnels of a worker that dies; its client comes back to the same address', async () => {
      const addressB = vpnB!.env.INTERNAL_IP4_ADDRESS!;
      const victimTun = await routedWorker(topology, addressB);
      const before = await gatewayWorkerPids(topology);
      expect(before).toHaveLength(2);
      const victim = before.find((pid) => tunOfWorker(pid) === victimTun);
      expect(victim, `no worker owns ${victimTun}`).toBeDefined();
      process.kill(victim!, 'SIGKILL');

      // The other client keeps going while its peer's worker is down and restarting.
      const ping = await topology.exec(topology.dev, 'ping', [
        '-c',
        '4',
        '-i',
        '0.5',
        '-W',
        '2',
        '10.200.2.2',
      ]);
      expect(ping.stdout).toContain('4 received');

      const reconnectEnv = join(vpnB!.envDir, 'env.reconnect');
      for (let i = 0; i < 60 && !existsSync(reconnectEnv); i++) await sleep(1000);
      expect(existsSync(reconnectEnv), vpnB!.output()).toBe(true);
      expect(readFileSync(reconnectEnv, 'utf8')).toContain(`INTERNAL_IP4_ADDRESS=${addressB}`);
      await sleep(500);
      const back = await topology.exec(dev2, 'ping', ['-c', '2', '-W', '2', '10.200.2.2']);
      expect(back.stdout).toContain('2 received');
      expect(await gatewayWorkerPids(topology)).toHaveLength(2);
      expect(app.logs()).toContain('gateway worker exited; starting another');
    }, 120_000);

    it('ends a session on a worker with `sessions disconnect`; its cookie is refused', async () => {
      const result = await app.cli(['sessions', 'disconnect', '--user', 'worker-laptop-b']);
      expect(result.code, result.stderr).toBe(0);
      const code = await new Promise<number | null>((resolve) => {
        if (vpnB!.child.exitCode !== null) resolve(vpnB!.child.exitCode);
        vpnB!.child.once('exit', resolve);
        setTimeout(() => resolve(-1), 15_000);
      });
      expect(code, vpnB!.output()).not.toBe(-1);
      expect(vpnB!.output()).toMatch(/terminat|cookie|401|rejected/i);
      vpnB = undefined;
      const left = await sessions();
      expect(left.map((s) => s.user)).toEqual(['worker-laptop-a']);
    }, 60_000);

    it('stops cleanly: tunnels told, workers gone, TUNs removed', async () => {
      await vpnA?.stop();
      vpnA = undefined;
      await app.stop();
      expect(await gatewayWorkerPids(topology)).toEqual([]);
      const links = (await topology.exec(topology.gw, 'ip', ['-o', 'link', 'show'])).stdout;
      expect(links).not.toContain('outpost0w');
    }, 60_000);
  },
);

/** The TUN a worker process holds open, read from its file descriptors' iff names. */
function tunOfWorker(pid: number): string | undefined {
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    const name = /^iff:\s+(\S+)/m.exec(info)?.[1];
    if (name) return name;
  }
  return undefined;
}
