import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from './appliance.js';
import { run } from './run.js';

export interface RunningCfssl {
  /** Base URL of `cfssl serve` (the API is under /api/v1/cfssl/). */
  url: string;
  caCertFile: string;
  caKeyFile: string;
  /** The hex HMAC key of the `authclient` profile, and a file holding it. */
  authKey: string;
  authKeyFile: string;
  /** certdb rows (decimal serial, status, reason) as cfssl keeps them. */
  certdb(): Array<{ serial: string; status: string; reason: number }>;
  /** A CRL made by cfssl's own gencrl endpoint from the certdb's revoked serials (DER). */
  crl(): Promise<Buffer>;
  stop(): Promise<void>;
}

/**
 * cfssl 1.2.0 (Debian golang-cfssl, 2016 snapshot) as in shared/peers/start-cfssl.sh: a root made
 * with `cfssl gencert -initca`, profiles client / server / authclient (HMAC auth key), and a
 * SQLite certdb whose columns are TEXT, because the upstream migration's "bytea" columns have
 * NUMERIC affinity in SQLite and turn decimal serials into REALs (revoke then finds nothing).
 */
export async function startCfssl(): Promise<RunningCfssl> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-cfssl-'));
  const authKey = randomBytes(16).toString('hex').toUpperCase();
  writeFileSync(
    join(dir, 'ca-csr.json'),
    JSON.stringify({
      CN: 'Fixture CFSSL Root CA',
      key: { algo: 'rsa', size: 2048 },
      names: [{ C: 'US', O: 'Example Test', OU: 'Fixture PKI' }],
      ca: { expiry: '87600h' },
    }),
  );
  const init = await run('cfssl', ['gencert', '-initca', 'ca-csr.json'], { cwd: dir });
  if (init.code !== 0) throw new Error(`cfssl gencert -initca failed:\n${init.stderr}`);
  const { cert, key } = JSON.parse(init.stdout) as { cert: string; key: string };
  const caCertFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca-key.pem');
  writeFileSync(caCertFile, cert);
  writeFileSync(caKeyFile, key, { mode: 0o600 });
  const usages = ['digital signature', 'key encipherment'];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      signing: {
        default: { expiry: '8760h', usages: [...usages, 'client auth'] },
        profiles: {
          client: { expiry: '8760h', usages: [...usages, 'client auth'] },
          server: { expiry: '8760h', usages: [...usages, 'server auth'] },
          authclient: { expiry: '720h', usages: [...usages, 'client auth'], auth_key: 'k1' },
        },
      },
      auth_keys: { k1: { type: 'standard', key: authKey } },
    }),
  );
  const authKeyFile = join(dir, 'auth.key');
  writeFileSync(authKeyFile, `${authKey}\n`, { mode: 0o600 });
  const dbFile = join(dir, 'certs.db');
  const db = new Database(dbFile);
  db.exec(`
    CREATE TABLE certificates (
      serial_number TEXT NOT NULL, authority_key_identifier TEXT NOT NULL, ca_label TEXT,
      status TEXT NOT NULL, reason INTEGER, expiry TIMESTAMP, revoked_at TIMESTAMP, pem TEXT NOT NULL,
      PRIMARY KEY(serial_number, authority_key_identifier));
    CREATE TABLE ocsp_responses (
      serial_number TEXT NOT NULL, authority_key_identifier TEXT NOT NULL, body TEXT NOT NULL, expiry TIMESTAMP,
      PRIMARY KEY(serial_number, authority_key_identifier));
  `);
  db.close();
  writeFileSync(join(dir, 'db-config.json'), JSON.stringify({ driver: 'sqlite3', data_source: dbFile }));

  const port = await freePort();
  const child = spawn(
    'cfssl',
    [
      'serve',
      '-address',
      '127.0.0.1',
      '-port',
      String(port),
      '-ca',
      caCertFile,
      '-ca-key',
      caKeyFile,
      '-config',
      join(dir, 'config.json'),
      '-db-config',
      join(dir, 'db-config.json'),
      '-loglevel',
      '1',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, child, () => log);

  const certdb = () => {
    const reader = new Database(dbFile, { readonly: true, fileMustExist: true });
    try {
      return reader
        .prepare('SELECT serial_number AS serial, status, reason FROM certificates ORDER BY serial_number')
        .all() as Array<{ serial: string; status: string; reason: number }>;
    } finally {
      reader.close();
    }
  };
  const crl = async () => {
    const res = await fetch(`${url}/api/v1/cfssl/gencrl`, {
      method: 'POST',
      body: JSON.stringify({
        certificate: readFileSync(caCertFile, 'utf8'),
        issuingKey: readFileSync(caKeyFile, 'utf8'),
        serialNumber: certdb()
          .filter((r) => r.status === 'revoked')
          .map((r) => r.serial),
        expireTime: '3600',
      }),
    });
    const body = (await res.json()) as { success: boolean; result: string };
    if (!body.success) throw new Error(`cfssl gencrl failed: ${JSON.stringify(body)}`);
    return Buffer.from(body.result, 'base64');
  };
  return { url, caCertFile, caKeyFile, authKey, authKeyFile, certdb, crl, stop: () => stop(child, dir) };
}

async function waitUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`cfssl serve exited:\n${log()}`);
    try {
      if ((await fetch(`${url}/api/v1/cfssl/info`, { method: 'POST', body: '{}' })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`cfssl serve not ready:\n${log()}`);
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
