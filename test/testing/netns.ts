import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Runs commands in network namespaces; remembers the long-running ones, for destroy(). */
export class NamespaceProcesses {
  protected readonly children = new Set<ChildProcess>();

  /** Runs a command inside a namespace and returns its output (throws on a non-zero exit). */
  async exec(
    ns: string,
    cmd: string,
    args: string[],
    timeoutMs = 30_000,
  ): Promise<{ stdout: string; stderr: string }> {
    return exec('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  }

  /** Starts a long-running process inside a namespace; it is killed by destroy(). */
  spawn(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }
}

/**
 * Three network namespaces as in shared/peers/ocserv-bench.sh:
 *
 *   [dev] dev0 10.200.1.2/24 == gw0 10.200.1.1/24 [gw] gw1 10.200.2.1/24 == corp0 10.200.2.2/24 [corp]
 *
 * dev runs openconnect, gw runs the VPN server (ip_forward on), corp is the corporate network
 * (default route via gw, so replies to the pool go back through the gateway). dev has no route to
 * 10.200.2.0/24 except through the tunnel. Each topology has its own random name prefix, so two
 * test files never share namespaces; `destroy()` kills what runs inside and deletes them.
 */
export class VpnTopology extends NamespaceProcesses {
  readonly dev: string;
  readonly gw: string;
  readonly corp: string;
  static readonly gatewayAddress = '10.200.1.1';
  static readonly corpAddress = '10.200.2.2';
  static readonly corpAddress6 = 'fd00:201::2';
  private readonly extra: string[] = [];

  private constructor(private readonly prefix: string) {
    super();
    this.dev = `${prefix}dev`;
    this.gw = `${prefix}gw`;
    this.corp = `${prefix}corp`;
  }

  static async create(): Promise<VpnTopology> {
    const topology = new VpnTopology(`op${randomBytes(3).toString('hex')}`);
    return builtOrDestroyed(topology, () => topology.build());
  }

  private async build(): Promise<void> {
    for (const ns of [this.dev, this.gw, this.corp]) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip(
      'link',
      'add',
      'dev0',
      'netns',
      this.dev,
      'type',
      'veth',
      'peer',
      'name',
      'gw0',
      'netns',
      this.gw,
    );
    await ip(
      'link',
      'add',
      'gw1',
      'netns',
      this.gw,
      'type',
      'veth',
      'peer',
      'name',
      'corp0',
      'netns',
      this.corp,
    );
    await ip('-n', this.dev, 'addr', 'add', '10.200.1.2/24', 'dev', 'dev0');
    await ip('-n', this.gw, 'addr', 'add', '10.200.1.1/24', 'dev', 'gw0');
    await ip('-n', this.gw, 'addr', 'add', '10.200.2.1/24', 'dev', 'gw1');
    await ip('-n', this.corp, 'addr', 'add', '10.200.2.2/24', 'dev', 'corp0');
    for (const [ns, dev] of [
      [this.dev, 'dev0'],
      [this.gw, 'gw0'],
      [this.gw, 'gw1'],
      [this.corp, 'corp0'],
    ] as const) {
      await ip('-n', ns, 'link', 'set', dev, 'up');
    }
    await ip('-n', this.corp, 'route', 'add', 'default', 'via', '10.200.2.1');
    await this.exec(this.gw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  }

  /**
   * A further device namespace `<prefix>dev<n>` (n ≥ 2) on its own link to gw,
   * 10.200.<n+1>.2/24 == 10.200.<n+1>.1/24, with a route to the gateway's address only: like dev,
   * it reaches the corporate network through a tunnel or not at all.
   */
  async addDevice(n: number): Promise<string> {
    if (!Number.isInteger(n) || n < 2 || n > 50) throw new RangeError(`device number ${n}`);
    const ns = `${this.prefix}dev${n}`;
    await ip('netns', 'add', ns);
    this.extra.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip(
      'link',
      'add',
      `dev${n}0`,
      'netns',
      ns,
      'type',
      'veth',
      'peer',
      'name',
      `gwd${n}`,
      'netns',
      this.gw,
    );
    await ip('-n', ns, 'addr', 'add', `10.200.${n + 1}.2/24`, 'dev', `dev${n}0`);
    await ip('-n', this.gw, 'addr', 'add', `10.200.${n + 1}.1/24`, 'dev', `gwd${n}`);
    await ip('-n', ns, 'link', 'set', `dev${n}0`, 'up');
    await ip('-n', this.gw, 'link', 'set', `gwd${n}`, 'up');
    await ip('-n', ns, 'route', 'add', '10.200.1.0/24', 'via', `10.200.${n + 1}.1`);
    return ns;
  }

  /**
   * IPv6 between gw and corp (fd00:201::1/64 == fd00:201::2/64, corp's default route via gw,
   * forwarding on), for a gateway with an IPv6 pool and the split route fd00:201::/64.
   */
  async addCorpIpv6(): Promise<void> {
    await ip('-n', this.gw, '-6', 'addr', 'add', 'fd00:201::1/64', 'dev', 'gw1', 'nodad');
    await ip('-n', this.corp, '-6', 'addr', 'add', 'fd00:201::2/64', 'dev', 'corp0', 'nodad');
    await ip('-n', this.corp, '-6', 'route', 'add', 'default', 'via', 'fd00:201::1');
    await this.exec(this.gw, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  }

  /** A namespace made beside the topology (e.g. a delay line's), deleted by destroy() too. */
  trackNamespace(ns: string): void {
    this.extra.push(ns);
  }

  async destroy(): Promise<void> {
    for (const child of this.children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const child of this.children) child.kill('SIGKILL');
    await deleteNamespaces([this.dev, ...this.extra, this.gw, this.corp]);
  }
}

/** Runs `build`; when it fails, destroys what it made so far (namespaces, processes) and rethrows. */
export async function builtOrDestroyed<T extends { destroy(): Promise<void> }>(
  topology: T,
  build: () => Promise<void>,
): Promise<T> {
  try {
    await build();
  } catch (e) {
    await topology.destroy();
    throw e;
  }
  return topology;
}

/** Kills what still runs in each namespace, then deletes it. */
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  for (const ns of names) {
    const pids = await exec('ip', ['netns', 'pids', ns]).then(
      (r) => r.stdout.split(/\s+/).filter(Boolean),
      () => [],
    );
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await ip('netns', 'del', ns).catch(() => undefined);
  }
}

async function ip(...args: string[]): Promise<void> {
  await exec('ip', args, { timeout: 10_000 });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
