import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from './run.js';

/**
 * A Docker engine (Debian's docker.io) of the test's own: data root, exec root, pid file and
 * socket under `dir`, and no change to the host's firewall (--iptables=false --ip6tables=false:
 * a dockerd with iptables sets the FORWARD policy to DROP, which breaks the namespace tests that
 * run on the same machine). Without iptables, published ports still work through docker-proxy
 * (the userland proxy) on the host, and containers reach each other over their bridge; they get
 * no NAT to the outside, so builds use the host's network (`docker build --network host`).
 * Its networks come from 10.202.0.0/16, which no other test uses.
 */
export class DockerEngine {
  readonly host: string;
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    private readonly dir: string,
    private readonly daemon: ChildProcess,
    /** docker0 was already there (another engine's): leave it. */
    private readonly hadBridge: boolean,
  ) {
    this.host = `unix://${join(dir, 'docker.sock')}`;
    // /usr/bin first: Debian's docker CLI and docker-compose, whatever else is on the PATH.
    this.env = {
      ...process.env,
      DOCKER_HOST: this.host,
      PATH: `/usr/bin:/usr/sbin:${process.env.PATH ?? ''}`,
    };
  }

  static async start(dir: string): Promise<DockerEngine> {
    mkdirSync(dir, { recursive: true });
    const hadBridge = existsSync('/sys/class/net/docker0');
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    const daemon = spawn(
      '/usr/sbin/dockerd',
      [
        '--iptables=false',
        '--ip6tables=false',
        '--ip-masq=false',
        `--data-root=${join(dir, 'data')}`,
        `--exec-root=${join(dir, 'exec')}`,
        `--pidfile=${join(dir, 'docker.pid')}`,
        `--host=unix://${join(dir, 'docker.sock')}`,
        '--bip=10.202.255.1/24',
        '--default-address-pool=base=10.202.0.0/16,size=24',
      ],
      { stdio: ['ignore', log, log] },
    );
    const engine = new DockerEngine(dir, daemon, hadBridge);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`dockerd exited:\n${engine.log()}`);
      if ((await engine.docker(['version', '--format', '{{.Server.Version}}'])).code === 0) return engine;
      if (Date.now() > deadline) {
        await engine.stop();
        throw new Error(`dockerd did not answer within 60 s:\n${engine.log()}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  log(): string {
    const file = join(this.dir, 'dockerd.log');
    return existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : '';
  }

  docker(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return run('/usr/bin/docker', args, { env: this.env, timeoutMs });
  }

  /** Like docker(), but throws with the output when the command fails. */
  async must(
    cmd: '/usr/bin/docker' | '/usr/bin/docker-compose',
    args: string[],
    timeoutMs = 120_000,
  ): Promise<string> {
    const result = await run(cmd, args, { env: this.env, timeoutMs });
    if (result.code !== 0)
      throw new Error(
        `${cmd} ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`,
      );
    return result.stdout;
  }

  /**
   * Stops every container, then the daemon (SIGTERM, SIGKILL after 20 s), and removes what a
   * stopped dockerd leaves behind: its mounts under `dir` (the data root it re-mounts private, a
   * network namespace) and the docker0 bridge it created.
   */
  async stop(): Promise<void> {
    const ids = (await this.docker(['ps', '-aq'], 30_000)).stdout.split(/\s+/).filter(Boolean);
    if (ids.length > 0) await this.docker(['rm', '-f', ...ids], 60_000);
    if (this.daemon.exitCode === null) {
      const exited = new Promise<void>((r) => this.daemon.once('exit', () => r()));
      this.daemon.kill('SIGTERM');
      const timer = setTimeout(() => this.daemon.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((point) => point.startsWith(`${this.dir}/`) || point === this.dir)
      .reverse();
    for (const point of mounts) await run('umount', ['-l', point], { timeoutMs: 10_000 });
    if (!this.hadBridge) await run('ip', ['link', 'del', 'docker0'], { timeoutMs: 10_000 });
  }
}
