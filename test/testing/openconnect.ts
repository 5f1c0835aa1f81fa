import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VpnTopology } from './netns.js';

export interface OpenconnectSession {
  child: ChildProcess;
  /** The environment openconnect handed to vpnc-script at connect (what the server pushed). */
  env: Record<string, string>;
  output: () => string;
  /** Where the vpnc-script wrapper writes env.<reason> (connect, reconnect, disconnect). */
  envDir: string;
  stop(): Promise<number | null>;
}

export type OpenconnectAuth =
  | { kind: 'password'; user: string; password: string }
  | { kind: 'certificate'; certFile: string; keyFile: string }
  | { kind: 'token'; token: string };

/**
 * Runs the real openconnect (TLS only unless `dtls`) in the dev namespace. Its vpnc-script is wrapped, as in
 * shared/peers/ocserv-bench.sh: the wrapper records the pushed environment and drops the DNS
 * settings so the real vpnc-script never rewrites the host's /etc/resolv.conf (namespaces share
 * the filesystem). Resolves once the connect script ran (the tunnel is up).
 */
export async function startOpenconnect(
  topology: Pick<VpnTopology, 'spawn' | 'dev'>,
  options: {
    url: string;
    caFile: string;
    auth: OpenconnectAuth;
    extraArgs?: string[];
    timeoutMs?: number;
    /** The namespace to run in (default: the topology's dev). */
    ns?: string;
    /** Let openconnect set up DTLS as it does by default (the helper passes --no-dtls otherwise). */
    dtls?: boolean;
  },
): Promise<OpenconnectSession> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-oc-'));
  const wrapper = join(dir, 'vpnc-wrapper.sh');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      // Written aside and renamed: a test polling for env.$reason must never read it half written
      // (`> file` creates it empty before sort writes; haproxy-site's reconnect check read it so).
      `env | grep -E '^(reason|VPNGATEWAY|TUNDEV|IDLE_TIMEOUT|INTERNAL_IP[46]_|CISCO_)' | sort > "${dir}/.env.$reason.tmp"`,
      `mv -f "${dir}/.env.$reason.tmp" "${dir}/env.$reason"`,
      'unset INTERNAL_IP4_DNS INTERNAL_IP6_DNS CISCO_DEF_DOMAIN CISCO_SPLIT_DNS',
      'exec /usr/share/vpnc-scripts/vpnc-script "$@"',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  const args = [
    '--protocol=anyconnect',
    '--non-inter',
    ...(options.dtls ? [] : ['--no-dtls']),
    '--cafile',
    options.caFile,
    '--interface',
    'vpn0',
    '--script',
    wrapper,
    ...(options.extraArgs ?? []),
  ];
  const { auth } = options;
  if (auth.kind === 'password') args.push('--user', auth.user, '--passwd-on-stdin');
  if (auth.kind === 'certificate') args.push('--certificate', auth.certFile, '--sslkey', auth.keyFile);
  if (auth.kind === 'token') args.push('--token-mode=oidc', `--token-secret=${auth.token}`);
  args.push(options.url);
  const child = topology.spawn(options.ns ?? topology.dev, 'openconnect', args);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  if (auth.kind === 'password') child.stdin!.end(`${auth.password}\n`);
  else child.stdin!.end();

  const connectEnv = join(dir, 'env.connect');
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!existsSync(connectEnv)) {
    if (child.exitCode !== null) throw new Error(`openconnect exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`openconnect did not connect in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300)); // vpnc-script configures the interface after the env dump
  const env = Object.fromEntries(
    readFileSync(connectEnv, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  return {
    child,
    env,
    output: () => output,
    envDir: dir,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
