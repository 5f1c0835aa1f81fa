import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestPki } from '../../certs/testing/test-pki.js';
import { freePort } from './appliance.js';

export interface RunningScepServer {
  url: string;
  /** null: started without -challenge (accepts any CSR). */
  challenge: string | null;
  caCertFile: string;
  stop(): Promise<void>;
}

/**
 * micromdm scepserver 2.1.0 (Debian `scep`) with a CA made by openssl, as in
 * shared/peers/start-scep.sh: its file depot only reads a legacy-encrypted PKCS#1 key, it binds
 * ":PORT" on all interfaces, serves only `/scep`, and needs `-allowrenew 0` so re-enrolling a CN
 * does not fail with "DN already exists".
 */
export async function startScepServer(
  options: { caKeyBits?: number; challenge?: string | null } = {},
): Promise<RunningScepServer> {
  const pki = new TestPki({ prefix: 'outpost-scepserver-' });
  const depot = pki.path('depot');
  mkdirSync(depot);
  const caCertFile = join(depot, 'ca.pem');
  const challenge = options.challenge === undefined ? 'secret123' : options.challenge;
  pki.selfSigned('ca', {
    subject: '/C=US/O=fixture-scep-ca/CN=Fixture SCEP CA',
    key: `rsa:${options.caKeyBits ?? 2048}`,
    days: 3650,
    extensions: [
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
    ],
  });
  copyFileSync(pki.path('ca.pem'), caCertFile);
  pki.openssl(
    'rsa',
    '-in',
    'ca.key',
    '-traditional',
    '-des3',
    '-passout',
    'pass:capass',
    '-out',
    join(depot, 'ca.key'),
  );
  const port = await freePort();
  const child = spawn(
    'scepserver',
    [
      '-depot',
      depot,
      '-port',
      String(port),
      '-capass',
      'capass',
      ...(challenge === null ? [] : ['-challenge', challenge]),
      '-allowrenew',
      '0',
      '-crtvalid',
      '365',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}/scep`;
  await waitUp(url, child, () => log);
  return { url, challenge, caCertFile, stop: () => stop(child, pki) };
}

async function waitUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`scepserver exited:\n${log()}`);
    try {
      if ((await fetch(`${url}?operation=GetCACaps`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`scepserver not ready:\n${log()}`);
}

async function stop(child: ChildProcess, pki: TestPki): Promise<void> {
  // a process ended by a signal has exitCode null but signalCode set: stopping twice must not wait
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  pki.cleanup();
}
