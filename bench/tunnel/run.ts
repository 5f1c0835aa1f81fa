import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `npm run bench:tunnel`: the same openconnect client and iperf3, in the same namespaces, through
 * ocserv and through Outpost's gateway (shared/peers/ocserv-bench.sh, TLS only, certificate
 * auth). Each round runs the harness once per server, in ABBA order (ocserv first in odd rounds,
 * Outpost first in even ones), so that load from other work on the machine falls on both alike;
 * each figure is the median over the rounds. Prints every harness result line, the load average, then exactly one
 * summary line:
 * `tunnel: outpost_up=… ocserv_up=… ratio_up=… outpost_down=… ocserv_down=… ratio_down=…`.
 * Needs root (network namespaces).
 *
 * `--tls12 1` caps Outpost at TLS 1.2 like Debian's ocserv (same protocol on both sides);
 * by default Outpost runs its default policy and openconnect picks TLS 1.3.
 */
const { values } = parseArgs({
  options: {
    harness: { type: 'string', default: resolve(process.cwd(), '../shared/peers/ocserv-bench.sh') },
    duration: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    /** 1 = also measure routing without a VPN each round (doubles the run time). */
    baseline: { type: 'string', default: '0' },
    tls12: { type: 'string', default: '0' },
  },
});

interface Result {
  line: string;
  up: number;
  down: number;
  upP4: number;
  downP4: number;
  cpuUp: number;
  cpuDown: number;
}

function runHarness(env: Record<string, string>): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [values.harness!, 'all'], {
      env: {
        ...process.env,
        AUTH: 'cert',
        DURATION: values.duration!,
        REPEAT: '1',
        BASELINE: values.baseline!,
        TRANSCRIPT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      const figure = (test: string) =>
        Number(new RegExp(`${test} (\\d+) Mbit/s`).exec(line)?.[1] ?? Number.NaN);
      const cpu = /srv-cpu ([\d.]+)\/([\d.]+) %/.exec(line);
      if (code !== 0 || Number.isNaN(figure('tcp-up')))
        return fail(new Error(`harness failed (${code}): ${line}`));
      done({
        line,
        up: figure('tcp-up'),
        down: figure('tcp-down'),
        upP4: figure('tcp-up-P4'),
        downP4: figure('tcp-down-P4'),
        cpuUp: Number(cpu?.[1] ?? Number.NaN),
        cpuDown: Number(cpu?.[2] ?? Number.NaN),
      });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

function medians(results: Result[]): Omit<Result, 'line'> {
  const of = (key: keyof Omit<Result, 'line'>) => median(results.map((r) => r[key]));
  return {
    up: of('up'),
    down: of('down'),
    upP4: of('upP4'),
    downP4: of('downP4'),
    cpuUp: of('cpuUp'),
    cpuDown: of('cpuDown'),
  };
}

/** Run-queue pressure from everything else on the machine, for reading the figures. */
function load(): string {
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus} CPUs`;
}

async function main(): Promise<void> {
  if (!existsSync(values.harness!))
    throw new Error(`harness not found: ${values.harness} (pass --harness PATH)`);
  const server = join(dirname(new URL(import.meta.url).pathname), '../../../bench/tunnel/outpost-server.sh');
  const outpostEnv = {
    SERVER_CMD: server,
    SERVER_NAME: 'outpost',
    ...(values.tls12 === '1' ? { OUTPOST_TLS_MAX: 'TLSv1.2' } : {}),
  };
  const rounds = Number(values.repeat);
  const ocserv: Result[] = [];
  const outpost: Result[] = [];
  const loads: string[] = [load()];
  for (let round = 1; round <= rounds; round++) {
    if (round % 2 === 1) {
      ocserv.push(await runHarness({}));
      outpost.push(await runHarness(outpostEnv));
    } else {
      outpost.push(await runHarness(outpostEnv));
      ocserv.push(await runHarness({}));
    }
    loads.push(load());
  }
  for (let i = 0; i < rounds; i++) {
    console.log(`round ${i + 1} ocserv : ${ocserv[i]!.line}`);
    console.log(`round ${i + 1} outpost: ${outpost[i]!.line}`);
  }
  const o = medians(outpost);
  const c = medians(ocserv);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`machine: ${loads.join(' | ')}`);
  console.log(
    `medians over ${rounds} rounds in ABBA order (Mbit/s): 4 streams up ${o.upP4} vs ${c.upP4} (${ratio(o.upP4, c.upP4)}), down ${o.downP4} vs ${c.downP4} (${ratio(o.downP4, c.downP4)}); server CPU % up/down outpost ${o.cpuUp}/${o.cpuDown}, ocserv ${c.cpuUp}/${c.cpuDown}`,
  );
  console.log(
    `tunnel: outpost_up=${o.up} ocserv_up=${c.up} ratio_up=${ratio(o.up, c.up)} outpost_down=${o.down} ocserv_down=${c.down} ratio_down=${ratio(o.down, c.down)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
