import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { cliPath } from './appliance.js';
import type { VpnTopology } from './netns.js';

export interface GatewayAppliance {
  dataDir: string;
  configFile: string;
  caFile: string;
  url: string;
  scepUrl: string;
  logs(): string;
  /** The `outpost run` process (`ip netns exec` execs it, so this is node's own pid). */
  pid: number;
  /** Whether that process has exited (or was killed). */
  exited(): boolean;
  /** Sends the appliance a signal (SIGHUP: reload the config file). */
  signal(name: NodeJS.Signals): void;
  /** Runs an `outpost` verb inside the gw namespace (the admin API listens there). */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * `outpost run` with both roles inside the gw namespace of a VpnTopology: the gateway on
 * 10.200.1.1:443 (TUN outpost0, pool 10.200.100.0/24, split include 10.200.2.0/24) and SCEP on
 * 10.200.1.1:8080, so a device in dev enrolls and connects over the namespaces' network.
 */
export async function startGatewayAppliance(
  /** Any namespace set with a gateway namespace `gw` (a VpnTopology, or one node of a site). */
  topology: Pick<VpnTopology, 'gw' | 'spawn' | 'exec'>,
  gateway: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  options: { dataDir?: string } = {},
): Promise<GatewayAppliance> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-gw-'));
  const configFile = join(dataDir, 'outpost.yaml');
  writeFileSync(
    configFile,
    stringify({
      dataDir,
      roles: ['gateway', 'connector'],
      admin: { listen: '127.0.0.1:9090' },
      log: { level: 'info' },
      gateway: {
        listen: '10.200.1.1:443',
        pool: { ipv4: '10.200.100.0/24' },
        dns: { servers: ['10.200.2.53'], domain: 'corp.test', split: ['corp.test'] },
        routes: { include: ['10.200.2.0/24'] },
        tun: { name: 'outpost0', mtu: 1472 },
        auth: { methods: ['certificate'] },
        timers: { dpd: 5, keepalive: 30, idle: 600, session: 3600, cookie: 60 },
        ...gateway,
      },
      connector: { scep: { listen: '10.200.1.1:8080', workers: 1 } },
      ...extra,
    }),
  );
  let output = '';
  const child: ChildProcess = topology.spawn(topology.gw, process.execPath, [
    cliPath,
    'run',
    '--config',
    configFile,
  ]);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const cli = async (args: string[]) => {
    try {
      const r = await topology.exec(topology.gw, process.execPath, [
        cliPath,
        ...args,
        '--config',
        configFile,
      ]);
      return { code: 0, ...r };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return {
        code: typeof err.code === 'number' ? err.code : 1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      };
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`outpost exited (${child.exitCode}):\n${output}`);
    const ready = await topology
      .exec(topology.gw, 'curl', ['-sf', 'http://127.0.0.1:9090/readyz'], 5000)
      .then(
        () => true,
        () => false,
      );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`outpost not ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    dataDir,
    configFile,
    caFile: join(dataDir, 'ca', 'ca.pem'),
    url: 'https://10.200.1.1:443/',
    scepUrl: 'http://10.200.1.1:8080/scep',
    logs: () => output,
    pid: child.pid!,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    signal: (name: NodeJS.Signals) => void child.kill(name),
    cli,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Tunnel worker processes in the gw namespace (their command line names the worker entry point). */
export async function gatewayWorkerPids(topology: VpnTopology): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ip', ['netns', 'pids', topology.gw]);
  return stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gateway-worker-main.js');
      } catch {
        return false; // gone meanwhile
      }
    });
}
