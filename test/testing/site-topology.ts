import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { builtOrDestroyed, deleteNamespaces, NamespaceProcesses } from './netns.js';

const exec = promisify(execFile);

async function ip(...args: string[]): Promise<void> {
  await exec('ip', args, { timeout: 10_000 });
}

/**
 * A gateway site in network namespaces: clients reach a load balancer, which reaches two gateway
 * nodes; each node reaches the corporate network. Point-to-point veths, no bridges:
 *
 *   [dev1] 10.210.1.2 == 10.210.1.1 [lb] 10.210.3.1 == 10.210.3.2 [gwa] 10.210.5.2 == 10.210.5.1 [corp]
 *   [dev2] 10.210.2.2 == 10.210.2.1 [lb] 10.210.4.1 == 10.210.4.2 [gwb] 10.210.6.2 == 10.210.6.1 [corp]
 *
 * corp holds 10.210.9.1 (the corporate server) and knows no route to any pool, so the nodes
 * masquerade (gateway.nat: true). A client reaches the corporate network only through a tunnel.
 */
export class SiteTopology extends NamespaceProcesses {
  readonly dev1: string;
  readonly dev2: string;
  readonly lb: string;
  readonly gwa: string;
  readonly gwb: string;
  readonly corp: string;
  static readonly corpServer = '10.210.9.1';
  /** Each client's address and the balancer address it connects to. */
  static readonly clients = [
    { address: '10.210.1.2', balancer: '10.210.1.1' },
    { address: '10.210.2.2', balancer: '10.210.2.1' },
  ] as const;
  /** Each node's address towards the balancer. */
  static readonly nodes = [
    { address: '10.210.3.2', balancerSide: '10.210.3.1' },
    { address: '10.210.4.2', balancerSide: '10.210.4.1' },
  ] as const;

  private constructor(prefix: string) {
    super();
    this.dev1 = `${prefix}d1`;
    this.dev2 = `${prefix}d2`;
    this.lb = `${prefix}lb`;
    this.gwa = `${prefix}ga`;
    this.gwb = `${prefix}gb`;
    this.corp = `${prefix}co`;
  }

  static async create(): Promise<SiteTopology> {
    const topology = new SiteTopology(`os${randomBytes(3).toString('hex')}`);
    return builtOrDestroyed(topology, () => topology.build());
  }

  private get all(): string[] {
    return [this.dev1, this.dev2, this.lb, this.gwa, this.gwb, this.corp];
  }

  private async link(a: string, aAddress: string, b: string, bAddress: string, name: string): Promise<void> {
    await ip('link', 'add', `${name}a`, 'netns', a, 'type', 'veth', 'peer', 'name', `${name}b`, 'netns', b);
    await ip('-n', a, 'addr', 'add', `${aAddress}/24`, 'dev', `${name}a`);
    await ip('-n', b, 'addr', 'add', `${bAddress}/24`, 'dev', `${name}b`);
    await ip('-n', a, 'link', 'set', `${name}a`, 'up');
    await ip('-n', b, 'link', 'set', `${name}b`, 'up');
  }

  private async build(): Promise<void> {
    for (const ns of this.all) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await this.link(this.dev1, '10.210.1.2', this.lb, '10.210.1.1', 'c1');
    await this.link(this.dev2, '10.210.2.2', this.lb, '10.210.2.1', 'c2');
    await this.link(this.lb, '10.210.3.1', this.gwa, '10.210.3.2', 'na');
    await this.link(this.lb, '10.210.4.1', this.gwb, '10.210.4.2', 'nb');
    await this.link(this.gwa, '10.210.5.2', this.corp, '10.210.5.1', 'ka');
    await this.link(this.gwb, '10.210.6.2', this.corp, '10.210.6.1', 'kb');
    await ip('-n', this.corp, 'addr', 'add', `${SiteTopology.corpServer}/32`, 'dev', 'lo');
    await ip('-n', this.gwa, 'route', 'add', '10.210.9.0/24', 'via', '10.210.5.1');
    await ip('-n', this.gwb, 'route', 'add', '10.210.9.0/24', 'via', '10.210.6.1');
    for (const ns of [this.gwa, this.gwb]) await this.exec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  }

  async destroy(): Promise<void> {
    for (const child of this.children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const child of this.children) child.kill('SIGKILL');
    await deleteNamespaces(this.all);
  }
}
