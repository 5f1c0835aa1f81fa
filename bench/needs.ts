import { spawnSync } from 'node:child_process';

/** sbin directories a non-login root shell may lack, where ip, slapd and ocserv live. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function installed(program: string): boolean {
  const path = [process.env.PATH ?? '', ...SBIN].filter(Boolean).join(':');
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', program], {
    env: { ...process.env, PATH: path },
  });
  return found.status === 0;
}

/**
 * What a benchmark needs before it starts: the programs it runs (every one is in the repository's
 * peer list, scripts/peers.txt) and, for the namespace benchmarks, root. When something is
 * missing it says what, and how to get it, and exits 1 instead of failing halfway.
 */
export function requireForBench(
  bench: string,
  programs: readonly string[],
  options: { root?: boolean } = {},
): void {
  const problems: string[] = [];
  const missing = programs.filter((program) => !installed(program));
  if (missing.length > 0)
    problems.push(
      `missing programs: ${missing.join(', ')} (install them with: npm run peers:install, Debian 12 as root)`,
    );
  if (options.root && process.getuid?.() !== 0)
    problems.push('it needs root (network namespaces, TUN devices)');
  if (problems.length === 0) return;
  for (const problem of problems) console.error(`${bench}: ${problem}`);
  process.exit(1);
}
