/**
 * Checks that the host lets the gateway run its data plane, before anything is changed. Each
 * problem says what is wrong and how to fix it; all problems are reported at once.
 */
import fs from 'node:fs';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export type PreflightCheck = 'tun-device' | 'cap-net-admin' | 'ipv4-forwarding' | 'ipv6-forwarding';

export interface PreflightProblem {
  readonly check: PreflightCheck;
  readonly message: string;
  readonly fix: string;
}

export interface PreflightOptions {
  /** An IPv6 pool is configured, so IPv6 forwarding is needed too. */
  readonly ipv6: boolean;
}

/** What preflight reads from the host; replaced in tests. */
export interface PreflightHost {
  readFile(path: string): string;
  /** Opens and closes /dev/net/tun read-write; throws the errno error when it cannot. */
  probeTun(): void;
}

const CAP_NET_ADMIN = 12n;

export const systemHost: PreflightHost = {
  readFile: (path) => fs.readFileSync(path, 'utf8'),
  probeTun: () => fs.closeSync(fs.openSync('/dev/net/tun', fs.constants.O_RDWR)),
};

function tryRead(host: PreflightHost, path: string): string | undefined {
  try {
    return host.readFile(path);
  } catch {
    return undefined;
  }
}

/**
 * The capability fix that works for this process. Docker's --cap-add only reaches a root process:
 * a non-root user's effective set stays empty (Docker sets no ambient capabilities), so in the
 * image, whose user is uid 10001, the gateway has to run as root in its container.
 */
function capabilityFix(uid: number | undefined): string {
  if (uid === 0)
    return 'docker run --cap-add NET_ADMIN (compose: cap_add: [NET_ADMIN]); on a host, run as root';
  return (
    `this process runs as uid ${uid ?? '?'}, and a capability added to a container reaches only root: ` +
    'docker run --user 0 --cap-add NET_ADMIN --device /dev/net/tun --sysctl net.ipv4.ip_forward=1 ' +
    '(compose: the gateway service, `docker compose --profile gateway up -d`); on a host, run as root'
  );
}

export function preflight(options: PreflightOptions, host: PreflightHost = systemHost): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const status = tryRead(host, '/proc/self/status') ?? '';
  const uidText = /^Uid:\s*(\d+)\s+(\d+)/m.exec(status)?.[2];
  const uid = uidText === undefined ? undefined : Number(uidText);
  try {
    host.probeTun();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    problems.push({
      check: 'tun-device',
      message: `/dev/net/tun cannot be opened (${code})`,
      fix:
        code === 'ENOENT'
          ? 'pass the device into the container: docker run --device /dev/net/tun (on a host: modprobe tun)'
          : `give the process the device and the capability: ${capabilityFix(uid)}`,
    });
  }

  const capEff = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status)?.[1];
  if (capEff === undefined || ((BigInt(`0x${capEff}`) >> CAP_NET_ADMIN) & 1n) === 0n) {
    problems.push({
      check: 'cap-net-admin',
      message: 'the process lacks CAP_NET_ADMIN (needed to create the TUN and set addresses, routes and NAT)',
      fix: capabilityFix(uid),
    });
  }

  if (tryRead(host, '/proc/sys/net/ipv4/ip_forward')?.trim() !== '1') {
    problems.push({
      check: 'ipv4-forwarding',
      message: 'IPv4 forwarding is off: tunnel packets would not reach the network',
      fix: 'sysctl -w net.ipv4.ip_forward=1 (in Docker: docker run --sysctl net.ipv4.ip_forward=1)',
    });
  }
  if (options.ipv6 && tryRead(host, '/proc/sys/net/ipv6/conf/all/forwarding')?.trim() !== '1') {
    problems.push({
      check: 'ipv6-forwarding',
      message: 'IPv6 forwarding is off but an IPv6 pool is configured',
      fix: 'sysctl -w net.ipv6.conf.all.forwarding=1 (in Docker: docker run --sysctl net.ipv6.conf.all.forwarding=1)',
    });
  }
  return problems;
}

/** Throws one OUTPOST_ERR_CONFIG listing every problem and its fix. */
export function assertPreflight(options: PreflightOptions, host: PreflightHost = systemHost): void {
  const problems = preflight(options, host);
  if (problems.length === 0) return;
  throw new OutpostError(ErrorCodes.config, 'the host is not ready for the VPN gateway', {
    detail: problems.map((p) => `${p.message}; fix: ${p.fix}`).join(' | '),
  });
}
