import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './appliance.js';
import { stopChild } from './cloud.js';
import { makeTls } from './slapd.js';

/** The fixture's one login role and its password (fixture-only constants). */
const USER = 'outpost';
const PASSWORD = 'pg-fixture-password';

export interface RunningPostgres {
  /** `postgres://outpost@127.0.0.1:PORT/outpost`: no password in it, like the config wants. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** A 0600 file holding `password` (state.postgres.passwordFile). */
  passwordFile: string;
  /** The directory of the server's Unix socket (`.s.PGSQL.PORT`). */
  socketDir: string;
  /** With `tls: true`: the CA that signed the server certificate (CN and SAN 127.0.0.1, localhost). */
  caFile?: string;
  /** The postmaster's PID (changes with restart). */
  pid(): number;
  /** A fresh, empty database (every test takes its own: one server per file, no shared state). */
  createDatabase(name: string): Promise<string>;
  /**
   * Immediate shutdown (SIGQUIT; stop() uses SIGINT, the fast one): every backend exits at once, clients see their connections
   * drop, nothing is checkpointed, and start() runs crash recovery. (SIGKILL on the postmaster
   * alone would leave its backends, each its own process group, serving their clients.)
   */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data after kill() (crash recovery runs). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** ssl=on with a fresh CA; pg_hba then accepts TCP clients only over TLS (hostssl). */
  tls?: boolean;
  /** More server settings (`-c name=value`), e.g. a benchmark's shared_buffers. */
  settings?: Record<string, string>;
}

/** /usr/lib/postgresql/<major>/bin of the newest installed server (Debian installs no initdb on the PATH). */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

/** The programs requirePeers() should find: absolute paths, as Debian keeps them off the PATH. */
export function postgresPrograms(): string[] {
  const bin = postgresBinDir() ?? '/usr/lib/postgresql/15/bin';
  return [join(bin, 'initdb'), join(bin, 'postgres')];
}

/**
 * PostgreSQL refuses to run as root, and CI runs as root: the server then runs as the `postgres`
 * user the Debian package creates (or `nobody`); as any other user it runs as that user.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('no unprivileged user (postgres, nobody) to run PostgreSQL as');
}

/**
 * One PostgreSQL cluster in a temporary directory, on a free loopback port and a Unix socket in
 * that directory: initdb with SCRAM authentication, then the postmaster in the foreground so we
 * own its PID. fsync is off (the tests kill the connectors and the server, never the machine, and
 * the kernel keeps what was written); synchronous_commit stays on, so a commit survives kill().
 * Start one per test file (about a second) and give each test its own database.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pg-'));
  const owner = serverUser();
  const own = (path: string) => owner && chownSync(path, owner.uid, owner.gid);
  let child: ChildProcess | undefined;
  try {
    own(dir);
    const data = join(dir, 'data');
    const socketDir = join(dir, 'sock');
    mkdirSync(socketDir, { mode: 0o700 });
    own(socketDir);
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    own(passwordFile);
    await runAs(owner, join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      USER,
      '--pwfile',
      passwordFile,
      '--auth',
      'scram-sha-256',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    const tls = options.tls ? await makeTls(dir) : undefined;
    if (tls) {
      chmodSync(tls.keyFile, 0o600); // PostgreSQL refuses a key others can read
      own(tls.keyFile);
    }
    writeFileSync(
      join(data, 'pg_hba.conf'),
      [
        'local all all scram-sha-256',
        `${tls ? 'hostssl' : 'host'} all all 127.0.0.1/32 scram-sha-256`,
        `${tls ? 'hostssl' : 'host'} all all ::1/128 scram-sha-256`,
        '',
      ].join('\n'),
    );
    own(join(data, 'pg_hba.conf'));
    const port = await freePort();
    const args = [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      socketDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'log_min_messages=warning',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ...(tls
        ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${tls.certFile}`, '-c', `ssl_key_file=${tls.keyFile}`]
        : []),
    ];
    const host = '127.0.0.1';
    const url = `postgres://${USER}@${host}:${port}/${USER}`;
    const admin = () =>
      new pg.Client({
        host: socketDir,
        port,
        user: USER,
        password: PASSWORD,
        database: 'postgres',
      });
    let log = '';
    const launch = async () => {
      const started = spawn(join(bin, 'postgres'), args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(owner ?? {}),
      });
      child = started;
      started.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
      await waitReady(admin, started, () => log);
    };
    await launch();
    await query(admin(), `CREATE DATABASE ${USER}`);
    return {
      url,
      host,
      port,
      user: USER,
      password: PASSWORD,
      passwordFile,
      socketDir,
      ...(tls ? { caFile: tls.caFile } : {}),
      pid: () => child?.pid ?? 0,
      async createDatabase(name: string) {
        if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
        await query(admin(), `CREATE DATABASE ${name}`);
        return `postgres://${USER}@${host}:${port}/${name}`;
      },
      async kill() {
        if (child) await stopChild(child, 'SIGQUIT');
      },
      start: launch,
      async stop() {
        if (child) await stopChild(child, 'SIGINT');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child) await stopChild(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function query(client: pg.Client, sql: string): Promise<void> {
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Polls with a real login until the server accepts it (after initdb or crash recovery). */
async function waitReady(connect: () => pg.Client, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    }
    try {
      await query(connect(), 'SELECT 1');
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`postgres did not come up: ${String(e)}\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function runAs(owner: { uid: number; gid: number } | undefined, cmd: string, args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/', ...(owner ?? {}) });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`${cmd} failed (${code}):\n${out}`))));
  });
}
