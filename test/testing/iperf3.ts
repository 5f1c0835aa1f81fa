import type { ChildProcess } from 'node:child_process';
import type { VpnTopology } from './netns.js';
import { run } from './run.js';

export type IperfDirection = 'up' | 'down' | 'bidir';

export interface IperfRun {
  /** Where iperf3 -c runs (a device namespace) and which corp server port it talks to. */
  ns: string;
  port: number;
  /** The corp address: 10.200.2.2 or fd00:201::2. */
  host: string;
  direction: IperfDirection;
  streams: number;
  /** How long to send (-t), unless `bytes` is given. */
  seconds: number;
  /** How many bytes to send (-n) instead of sending for `seconds`. */
  bytes?: number;
  /** UDP at this rate (iperf3 -u -b, e.g. '25M'); TCP when absent. */
  udpRate?: string;
}

export interface IperfResult {
  ok: boolean;
  error?: string;
  /** Bytes the receiving ends counted, both directions together for --bidir. */
  receivedBytes: number;
  /** Receiver throughput in Mbit/s, both directions together for --bidir. */
  mbps: number;
  /** TCP retransmits the sending ends counted. */
  retransmits: number;
  /** UDP: datagrams sent and datagrams the receiver found missing. */
  packets: number;
  lostPackets: number;
}

export interface IperfServer {
  child: ChildProcess;
  /** What the server printed (its errors say why it ended a test). */
  output(): string;
}

/**
 * iperf3 servers in the corp namespace, one per port (an iperf3 server runs one test at a time),
 * each listening on :: so that it answers over IPv4 and IPv6. A server gives up on a test that
 * sends nothing for 15 s (--rcv-timeout), so one failed run does not leave it busy for the next.
 * Killed by the topology's destroy().
 */
export async function startIperfServers(topology: VpnTopology, ports: number[]): Promise<IperfServer[]> {
  const servers = ports.map((port) => {
    const child = topology.spawn(topology.corp, 'iperf3', [
      '-s',
      '-p',
      String(port),
      '--rcv-timeout',
      '15000',
    ]);
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return { child, output: () => output };
  });
  for (const port of ports) {
    for (let i = 0; ; i++) {
      const { stdout } = await topology.exec(topology.corp, 'ss', ['-Hltn', `sport = :${port}`]);
      if (stdout.trim() !== '') break;
      if (i > 50) throw new Error(`iperf3 server on port ${port} did not listen`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return servers;
}

/**
 * Waits (bounded) until no iperf3 server in corp still holds a test's connection open: a server
 * takes a moment to wind a test down, and a client that comes in meanwhile is told "the server is
 * busy running a test" (or finds its control connection reset).
 */
export async function waitIperfServersIdle(topology: VpnTopology, ports: number[]): Promise<void> {
  const filter = [
    'state',
    'established',
    'state',
    'close-wait',
    `( ${ports.map((p) => `sport = :${p}`).join(' or ')} )`,
  ];
  for (let i = 0; i < 50; i++) {
    const { stdout } = await topology.exec(topology.corp, 'ss', ['-Htn', ...filter]);
    if (stdout.trim() === '') return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Runs one bounded iperf3 client with -J and reads what it measured (never throws on a failed run).
 * An iperf3 server still winding down a previous test (a tunnel that ended mid-test leaves it waiting
 * for its --rcv-timeout, 15 s) answers "the server is busy running a test": that is retried, every
 * 2 s for up to 30 s, rather than reported as the run's result.
 */
export async function runIperf(r: IperfRun): Promise<IperfResult> {
  for (let attempt = 0; ; attempt++) {
    const result = await runIperfOnce(r);
    if (result.ok || !/busy running a test/.test(result.error ?? '') || attempt >= 15) return result;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function runIperfOnce(r: IperfRun): Promise<IperfResult> {
  const args = [
    'netns',
    'exec',
    r.ns,
    'iperf3',
    '-J',
    '-c',
    r.host,
    '-p',
    String(r.port),
    ...(r.bytes ? ['-n', String(r.bytes)] : ['-t', String(r.seconds)]),
    '-P',
    String(r.streams),
    '--connect-timeout',
    '5000',
  ];
  if (r.direction === 'down') args.push('-R');
  if (r.direction === 'bidir') args.push('--bidir');
  if (r.udpRate) args.push('-u', '-b', r.udpRate);
  // Bounded either way: a byte count gets as long as it takes at 100 Mbit/s.
  const seconds = r.bytes ? (r.bytes * 8) / 100e6 : r.seconds;
  const result = await run('ip', args, { timeoutMs: Math.ceil((seconds + 25) * 1000) });
  return readIperfJson(result.stdout, result.code, result.stderr);
}

interface Sum {
  bytes?: number;
  bits_per_second?: number;
  retransmits?: number;
  packets?: number;
  lost_packets?: number;
}

function readIperfJson(stdout: string, code: number, stderr: string): IperfResult {
  const failed = (error: string): IperfResult => ({
    ok: false,
    error,
    receivedBytes: 0,
    mbps: 0,
    retransmits: 0,
    packets: 0,
    lostPackets: 0,
  });
  let json: { error?: string; end?: Record<string, Sum> };
  try {
    json = JSON.parse(stdout);
  } catch {
    return failed(`iperf3 exit ${code}, no JSON: ${stderr.slice(0, 300)} ${stdout.slice(0, 300)}`);
  }
  if (json.error || code !== 0 || !json.end) return failed(json.error ?? `iperf3 exit ${code}`);
  const end = json.end;
  const received = [end.sum_received, end.sum_received_bidir_reverse];
  const sent = [end.sum_sent, end.sum_sent_bidir_reverse];
  // UDP: the receiving side counts the datagrams it expected (by sequence number) and lost.
  const add = (sums: (Sum | undefined)[], key: keyof Sum) => sums.reduce((n, s) => n + (s?.[key] ?? 0), 0);
  return {
    ok: true,
    receivedBytes: add(received, 'bytes'),
    mbps: add(received, 'bits_per_second') / 1e6,
    retransmits: add(sent, 'retransmits'),
    packets: add(received, 'packets'),
    lostPackets: add(received, 'lost_packets'),
  };
}
