import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { deleteNamespaces, NamespaceProcesses } from './netns.js';

const exec = promisify(execFile);

/**
 * The networks around the containerized gateway, built by the test (the Docker engine has no
 * iptables, so nothing here touches the host's firewall):
 *
 *   [dev] ctd0 10.203.0.2/24 == ctdh 10.203.0.1/24 [host: docker-proxy on :443, published port]
 *   [corp] ctc0 <bridge subnet>.250 == attached to the compose network's bridge, beside the
 *          gateway container, which NATs tunnel traffic out of its eth0
 *
 * dev reaches only the host (so the corp server only through the tunnel); `publicHost` resolves
 * to the host's address inside dev (/etc/netns/<dev>/hosts, which `ip netns exec` mounts over
 * /etc/hosts), so openconnect checks the gateway certificate's name as a device would.
 */
export class ContainerLan extends NamespaceProcesses {
  readonly dev: string;
  readonly corp: string;
  static readonly hostAddress = '10.203.0.1';
  private readonly hostLink: string;

  private constructor(prefix: string) {
    super();
    this.dev = `${prefix}dev`;
    this.corp = `${prefix}corp`;
    this.hostLink = `${prefix}h`;
  }

  static async create(bridge: string, corpAddress: string, prefixLength: number, publicHost: string) {
    const lan = new ContainerLan(`oc${randomBytes(3).toString('hex')}`);
    try {
      await lan.build(bridge, corpAddress, prefixLength, publicHost);
    } catch (e) {
      await lan.destroy();
      throw e;
    }
    return lan;
  }

  private async build(bridge: string, corpAddress: string, prefixLength: number, publicHost: string) {
    for (const ns of [this.dev, this.corp]) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', 'ctd0', 'netns', this.dev);
    await ip('addr', 'add', `${ContainerLan.hostAddress}/24`, 'dev', this.hostLink);
    await ip('link', 'set', this.hostLink, 'up');
    await ip('-n', this.dev, 'addr', 'add', '10.203.0.2/24', 'dev', 'ctd0');
    await ip('-n', this.dev, 'link', 'set', 'ctd0', 'up');
    const corpLink = `${this.corp.slice(0, 8)}b`;
    await ip('link', 'add', corpLink, 'type', 'veth', 'peer', 'name', 'ctc0', 'netns', this.corp);
    await ip('link', 'set', corpLink, 'master', bridge);
    await ip('link', 'set', corpLink, 'up');
    await ip('-n', this.corp, 'addr', 'add', `${corpAddress}/${prefixLength}`, 'dev', 'ctc0');
    await ip('-n', this.corp, 'link', 'set', 'ctc0', 'up');
    mkdirSync(`/etc/netns/${this.dev}`, { recursive: true });
    writeFileSync(
      `/etc/netns/${this.dev}/hosts`,
      `127.0.0.1 localhost\n${ContainerLan.hostAddress} ${publicHost}\n`,
    );
  }

  async destroy(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await deleteNamespaces([this.dev, this.corp]);
    await ip('link', 'del', this.hostLink).catch(() => undefined);
    rmSync(`/etc/netns/${this.dev}`, { recursive: true, force: true });
  }
}

async function ip(...args: string[]): Promise<void> {
  await exec('ip', args, { timeout: 10_000 });
}
