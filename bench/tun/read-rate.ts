/**
 * TUN packet rates of LinuxTunDevice on this machine (root only; never run as a test).
 *
 *   npm run build:tools && node dist-tools/bench/tun/read-rate.js [--packets 200000] [--rounds 3] [--payload 64]
 *
 * Read: a python3 process floods UDP datagrams at an address routed into a fresh TUN (python3, ip:
 * scripts/peers.txt); the device's reader thread hands them to a counting handler.
 * The rate is packets handled / time from first to last batch. Kernel-side drops (TUN tx queue)
 * and ring drops (the main thread fell behind) are reported separately.
 * Prefill read: the datagrams are queued in the kernel first (TUN fd open, nobody reading, large
 * txqueuelen), then the reader starts: the drain rate is the reader's own capacity, independent of
 * how fast python can send on a loaded 2-core machine.
 * Write: the main thread writes UDP packets from a "client" towards a non-local address; with
 * forwarding off the kernel discards them right after routing, so this measures our write path.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { runCommand } from '../../gateway/net/command-runner.js';
import { configureTunInterface } from '../../gateway/net/tun-interface.js';
import { LinuxTunDevice } from '../../gateway/tun/linux-tun-device.js';
import { openTunFd } from '../../gateway/tun/open-tun-fd.js';
import { udpPacket } from '../../gateway/tun/testing/packets.js';
import { requireForBench } from '../needs.js';

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    payload: { type: 'string', default: '64' },
    'ring-slots': { type: 'string', default: '4096' },
  },
});
const packets = Number(values.packets);
const rounds = Number(values.rounds);
const payload = Number(values.payload);

requireForBench('read-rate', ['python3', 'ip'], { root: true });

const SENDER = `
import socket, sys, time
n, size, dst = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
p = b'x' * size; sent = 0; t = time.perf_counter()
for i in range(n):
    try: s.sendto(p, (dst, 9)); sent += 1
    except OSError: pass
print(sent, time.perf_counter() - t)
`;

function send(n: number, destination: string): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SENDER, String(n), String(payload), destination], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', () => {
      const [sent, seconds] = out.trim().split(' ').map(Number);
      resolve({ sent: sent ?? 0, seconds: seconds ?? 0 });
    });
  });
}

async function kernelTx(name: string): Promise<{ packets: number; dropped: number }> {
  const [link] = JSON.parse((await runCommand('ip', ['-s', '-j', 'link', 'show', 'dev', name])).stdout);
  return { packets: link.stats64.tx.packets, dropped: link.stats64.tx.dropped };
}

const name = `ob-${randomBytes(3).toString('hex')}`;
const subnet = `10.252.${randomInt(1, 255)}`;
const device = LinuxTunDevice.open(name, { mtu: 1500, ringSlots: Number(values['ring-slots']) });
const cleanup = async () => {
  await device.close();
  await runCommand('ip', ['link', 'del', name]).catch(() => {});
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  // No IPv6 on the bench interface: router solicitations would mix into the counts.
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1');
  await configureTunInterface(runCommand, {
    name,
    mtu: 1500,
    ipv4: { address: `${subnet}.1`, prefixLength: 24 },
  });
  await runCommand('ip', ['link', 'set', 'dev', name, 'txqueuelen', '10000']);

  let count = 0;
  let first = 0;
  let last = 0;
  let batches = 0;
  device.onPackets((batch) => {
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count += batch.count;
    batches++;
  });

  const rows: Record<string, number | string>[] = [];
  for (let round = 1; round <= rounds; round++) {
    count = 0;
    batches = 0;
    const statsBefore = device.stats();
    const txBefore = await kernelTx(name);
    const sender = await send(packets, `${subnet}.2`);
    // Wait until nothing new arrives for 300 ms.
    for (let seen = -1; seen !== count; ) {
      seen = count;
      await new Promise((r) => setTimeout(r, 300));
    }
    const txAfter = await kernelTx(name);
    const stats = device.stats();
    const seconds = (last - first) / 1000;
    rows.push({
      mode: 'read',
      round,
      handled: count,
      pps: Math.round(count / seconds),
      avgBatch: +(count / Math.max(batches, 1)).toFixed(1),
      sent: sender.sent,
      senderPps: Math.round(sender.sent / sender.seconds),
      kernelTx: txAfter.packets - txBefore.packets,
      kernelDrops: txAfter.dropped - txBefore.dropped,
      ringDrops: stats.dropsIn - statsBefore.dropsIn,
    });
  }

  for (let round = 1; round <= rounds; round++) rows.push(await prefillRound(round));

  const packet = udpPacket(`${subnet}.2`, '192.0.2.1', 9, payload);
  for (let round = 1; round <= rounds; round++) {
    const before = device.stats();
    const started = performance.now();
    for (let i = 0; i < packets; i++) device.write(packet);
    const seconds = (performance.now() - started) / 1000;
    const after = device.stats();
    rows.push({
      mode: 'write',
      round,
      handled: after.packetsOut - before.packetsOut,
      pps: Math.round(packets / seconds),
      ringDrops: after.dropsOut - before.dropsOut,
    });
  }
  console.table(rows);
  const median = (mode: string) => {
    const values = rows
      .filter((r) => r.mode === mode)
      .map((r) => Number(r.pps))
      .sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)];
  };
  console.log(
    `tun: read-live=${median('read')} pps read-prefilled=${median('read-prefill')} pps write=${median('write')} pps` +
      ` (median of ${rounds}, ${payload}-byte UDP payload)`,
  );
} finally {
  await cleanup();
}

/** One round on its own TUN: fill the kernel queue with nobody reading, then time the drain. */
async function prefillRound(round: number): Promise<Record<string, number | string>> {
  const prefillName = `op-${randomBytes(3).toString('hex')}`;
  const prefillSubnet = `10.253.${randomInt(1, 255)}`;
  const { fd } = openTunFd(prefillName);
  let reader: LinuxTunDevice | undefined;
  try {
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${prefillName}/disable_ipv6`, '1');
    await configureTunInterface(runCommand, {
      name: prefillName,
      mtu: 1500,
      ipv4: { address: `${prefillSubnet}.1`, prefixLength: 24 },
    });
    await runCommand('ip', ['link', 'set', 'dev', prefillName, 'txqueuelen', String(packets + 1000)]);
    const sender = await send(packets, `${prefillSubnet}.2`);
    let handled = 0;
    let first = 0;
    let last = 0;
    let batchCount = 0;
    reader = LinuxTunDevice.fromFd(fd, prefillName, {
      mtu: 1500,
      ringSlots: Number(values['ring-slots']),
      ownsFd: true,
    });
    reader.onPackets((batch) => {
      const now = performance.now();
      if (handled === 0) first = now;
      last = now;
      handled += batch.count;
      batchCount++;
    });
    for (let seen = -1; seen !== handled; ) {
      seen = handled;
      await new Promise((r) => setTimeout(r, 300));
    }
    // The kernel counts a TUN packet as transmitted once the reader has taken it.
    const drained = await kernelTx(prefillName);
    return {
      mode: 'read-prefill',
      round,
      handled,
      pps: Math.round(handled / ((last - first) / 1000)),
      avgBatch: +(handled / Math.max(batchCount, 1)).toFixed(1),
      sent: sender.sent,
      kernelTx: drained.packets,
      kernelDrops: drained.dropped,
      ringDrops: reader.stats().dropsIn,
    };
  } finally {
    if (reader) await reader.close();
    else fs.closeSync(fd);
    await runCommand('ip', ['link', 'del', prefillName]).catch(() => {});
  }
}
