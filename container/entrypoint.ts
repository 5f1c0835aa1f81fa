/** What the entrypoint learns about a directory; the real probe lives in entrypoint-probe.ts. */
export interface DirectoryState {
  exists: boolean;
  writable: boolean;
  ownerUid?: number;
  /** An entry under the directory that belongs to another uid (`ca/ca.pem`); ownerUid is its owner. */
  blockedPath?: string;
  /** errno code when the check failed (EACCES, EROFS, …). */
  error?: string;
}

export interface FsProbe {
  /** Creates the directory if missing, then tries to write a file into it. */
  inspectDataDir(dir: string): DirectoryState;
  /** uid the process runs as (undefined on platforms without uids). */
  uid(): number | undefined;
}

export type EntrypointPlan =
  | { kind: 'run-cli'; argv: string[]; env: Record<string, string> }
  | { kind: 'fail'; message: string; exitCode: number };

export const CONTAINER_DATA_DIR = '/var/lib/outpost';
export const CONTAINER_UID = 10001;

const VERBS = new Set(['run', 'config', 'ca', 'scep', 'certs', 'help']);
/** Verbs that only read the config never touch the data directory. */
const NO_DATA_DIR = new Set(['config', 'help']);
const INFO_FLAGS = new Set(['-h', '--help', '-V', '--version']);

/** No arguments, or only options (`--config /etc/outpost.yaml`), means `run` with them. */
function withVerb(argv: readonly string[]): string[] {
  if (argv.length === 0) return ['run'];
  const hasVerb = argv.some((arg) => VERBS.has(arg));
  const infoOnly = argv.some((arg) => INFO_FLAGS.has(arg));
  if (!hasVerb && !infoOnly && argv[0]?.startsWith('-')) return ['run', ...argv];
  return [...argv];
}

/** --data-dir DIR / --data-dir=DIR / -d DIR on the command line, if given. */
function dataDirFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--data-dir=')) return arg.slice('--data-dir='.length);
    if (arg === '--data-dir' || arg === '-d') return argv[i + 1];
  }
  return undefined;
}

function needsDataDir(argv: readonly string[]): boolean {
  const verb = argv.find((arg) => VERBS.has(arg));
  return verb !== undefined && !NO_DATA_DIR.has(verb) && !argv.some((arg) => INFO_FLAGS.has(arg));
}

/** Says exactly how to fix the most common container problem: a volume owned by root. */
function permissionAdvice(dir: string, state: DirectoryState, uid: number | undefined): string {
  const who = uid === undefined ? 'this process' : `uid ${uid}`;
  const owner = state.ownerUid === undefined ? '' : ` (owned by uid ${state.ownerUid})`;
  const target = uid ?? CONTAINER_UID;
  const problem = state.blockedPath
    ? `${dir}/${state.blockedPath} is not accessible to ${who}${owner}${state.error ? `: ${state.error}` : ''}`
    : `the data directory ${dir} is not writable by ${who}${owner}${state.error ? `: ${state.error}` : ''}`;
  return [
    `outpost: ${problem}.`,
    'Outpost keeps its database and CA keys there. To fix it, give the volume (all of it) to the outpost user:',
    `  named volume:  docker run --rm -v outpost-data:${dir} --user 0 --entrypoint chown outpost -R ${target}:${target} ${dir}`,
    `  bind mount:    sudo chown -R ${target}:${target} /path/on/host`,
    '  or run the container with --user set to the directory owner (compose: user: "UID:GID").',
  ].join('\n');
}

/**
 * Decides what the container runs: `outpost run` by default, other verbs passed through, the
 * data directory defaulted to the volume and checked for write access before anything starts
 * (a permission error deep inside SQLite is much harder to read).
 */
export function planEntrypoint(env: NodeJS.ProcessEnv, argv: readonly string[], fs: FsProbe): EntrypointPlan {
  const args = withVerb(argv);
  const extraEnv: Record<string, string> = {};
  if (env.OUTPOST_IN_CONTAINER === undefined) extraEnv.OUTPOST_IN_CONTAINER = '1';
  // Not exported as OUTPOST_DATA_DIR: that would override a dataDir set in the config file
  // (whose value this check does not see; outpost reports that case itself when it opens it).
  const dataDir = dataDirFromArgv(args) ?? (env.OUTPOST_DATA_DIR || CONTAINER_DATA_DIR);
  if (needsDataDir(args)) {
    const state = fs.inspectDataDir(dataDir);
    if (!state.writable)
      return { kind: 'fail', message: permissionAdvice(dataDir, state, fs.uid()), exitCode: 1 };
  }
  return { kind: 'run-cli', argv: args, env: extraEnv };
}
