import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { openTunFd } from '../../gateway/tun/open-tun-fd.js';
import { seededRandom } from '../../link/backoff.js';
import { VpnTopology } from './netns.js';

const exec = promisify(execFile);

export interface DelayLineOptions {
  /** One-way delay added to every packet, each direction (the round trip gains twice this). */
  delayMs: number;
  /** Share of packets dropped, each direction, in percent. */
  lossPercent: number;
  /** Seed of the loss draw, so two runs drop the same packet positions. */
  seed?: number;
}

export interface DelayLine {
  description: string;
  stats(): { forwarded: number; dropped: number };
  remove(): Promise<void>;
}

/**
 * A lossy, slow WAN between the device and the gateway for kernels without sch_netem (container
 * hosts: `tc qdisc … netem` says "unknown"). Traffic from dev to the gateway's address is routed
 * through a namespace of its own, where every packet, each way, passes through a TUN device read by
 * this process, which drops `lossPercent` of them and writes the rest back after `delayMs`:
 *
 *   [dev] dl0 10.200.60.2 == wanA 10.200.60.1 [wan: wanA/wanB → TUN → this process → TUN] wanB
 *   10.200.61.1 == dl1 10.200.61.2 [gw]
 *
 * Packets arriving on wanA or wanB are policy-routed into the TUN; what this process writes back
 * enters from the TUN and is routed by the main table. dev reaches 10.200.1.1 through the WAN
 * (routes more specific than its direct link), so TLS and DTLS to the gateway both take it. The read
 * loop polls every millisecond, so the delay is `delayMs` plus up to about 1 ms.
 */
export async function insertDelayLine(topology: VpnTopology, options: DelayLineOptions): Promise<DelayLine> {
  const wan = `${topology.dev}wan`;
  topology.trackNamespace(wan);
  const ip = (...args: string[]) => exec('ip', args, { timeout: 10_000 });
  const sysctl = (ns: string, setting: string) => ip('netns', 'exec', ns, 'sysctl', '-qw', setting);
  await ip('netns', 'add', wan);
  await ip('-n', wan, 'link', 'set', 'lo', 'up');
  await ip('link', 'add', 'dl0', 'netns', topology.dev, 'type', 'veth', 'peer', 'name', 'wanA', 'netns', wan);
  await ip('link', 'add', 'dl1', 'netns', topology.gw, 'type', 'veth', 'peer', 'name', 'wanB', 'netns', wan);
  await ip('-n', topology.dev, 'addr', 'add', '10.200.60.2/24', 'dev', 'dl0');
  await ip('-n', wan, 'addr', 'add', '10.200.60.1/24', 'dev', 'wanA');
  await ip('-n', wan, 'addr', 'add', '10.200.61.1/24', 'dev', 'wanB');
  await ip('-n', topology.gw, 'addr', 'add', '10.200.61.2/24', 'dev', 'dl1');
  for (const [ns, dev] of [
    [topology.dev, 'dl0'],
    [wan, 'wanA'],
    [wan, 'wanB'],
    [topology.gw, 'dl1'],
  ] as const) {
    await ip('-n', ns, 'link', 'set', dev, 'up');
  }
  await sysctl(wan, 'net.ipv4.ip_forward=1');
  // Packets leave the TUN towards the interface they did not come in on: no reverse-path check.
  await sysctl(wan, 'net.ipv4.conf.all.rp_filter=0');
  await sysctl(wan, 'net.ipv4.conf.default.rp_filter=0');

  const tunName = `dl${randomBytes(3).toString('hex')}`;
  const { fd } = openTunFd(tunName);
  const stats = { forwarded: 0, dropped: 0 };
  let timer: NodeJS.Timeout | undefined;
  try {
    await ip('link', 'set', tunName, 'netns', wan);
    await ip('-n', wan, 'link', 'set', tunName, 'up');
    await ip('-n', wan, 'route', 'add', 'default', 'dev', tunName, 'table', '100');
    await ip('-n', wan, 'rule', 'add', 'iif', 'wanA', 'lookup', '100');
    await ip('-n', wan, 'rule', 'add', 'iif', 'wanB', 'lookup', '100');
    await ip('-n', wan, 'route', 'add', `${VpnTopology.gatewayAddress}/32`, 'via', '10.200.61.2');
    await ip('-n', topology.gw, 'route', 'add', '10.200.60.0/24', 'via', '10.200.61.1');
    for (const half of gatewayHalves)
      await ip('-n', topology.dev, 'route', 'add', half, 'via', '10.200.60.1');
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }

  const random = seededRandom(options.seed ?? 1);
  const queue: { due: number; packet: Buffer }[] = [];
  const poll = () => {
    const now = performance.now();
    for (let i = 0; i < 1024; i++) {
      const buffer = Buffer.allocUnsafe(2048);
      let n: number;
      try {
        n = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch {
        break; // EAGAIN: nothing more to read now.
      }
      if (random() * 100 < options.lossPercent) stats.dropped++;
      else queue.push({ due: now + options.delayMs, packet: buffer.subarray(0, n) });
    }
    // One delay for all packets: the queue is in due order.
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { packet } = queue.shift()!;
      try {
        fs.writeSync(fd, packet);
        stats.forwarded++;
      } catch {
        stats.dropped++;
      }
    }
    timer = setTimeout(poll, 1);
  };
  poll();

  return {
    description: `${options.lossPercent}% loss and ${options.delayMs} ms delay each way (${2 * options.delayMs} ms round trip) through a user-space delay line (this kernel has no sch_netem)`,
    stats: () => ({ ...stats }),
    remove: async () => {
      clearTimeout(timer);
      for (const half of gatewayHalves)
        await ip('-n', topology.dev, 'route', 'del', half).catch(() => undefined);
      await ip('-n', topology.gw, 'route', 'del', '10.200.60.0/24').catch(() => undefined);
      await ip('netns', 'del', wan).catch(() => undefined);
      fs.closeSync(fd);
    },
  };
}

/**
 * dev reaches the gateway's /24 through the WAN by two /25 routes: more specific than its direct
 * link's /24, and not the /32 that openconnect's vpnc-script adds for the gateway at connect and
 * deletes at disconnect (`ip route del $VPNGATEWAY`), which would take a /32 of ours with it.
 */
const gatewayHalves = ['10.200.1.0/25', '10.200.1.128/25'];
