import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, run } from './run.js';

export interface CertmongerEnrollment extends RunResult {
  /** `getcert list -s` after the request (contains `status: MONITORING` on success). */
  list: string;
  certFile: string;
  keyFile: string;
}

/**
 * The certmonger daemon in a sandbox (its own D-Bus session bus, state and temporary dirs under a
 * fresh directory): `getcert add-scep-ca` for `scepUrl` trusting `caFile`, then one `getcert
 * request -w` with a one-time challenge. certmonger builds its own PKCSReq (SHA-256 + AES when
 * advertised) and sends PKIOperation as GET through its scep-submit helper.
 */
export async function certmongerEnroll(options: {
  scepUrl: string;
  caFile: string;
  challenge: string;
  cn: string;
}): Promise<CertmongerEnrollment> {
  const sandbox = mkdtempSync(join(tmpdir(), 'outpost-certmonger-'));
  for (const sub of ['home', 'requests', 'cas', 'tmp', 'local', 'out']) mkdirSync(join(sandbox, sub));
  const out = join(sandbox, 'out');
  writeFileSync(
    join(sandbox, 'run.sh'),
    [
      `getcert add-scep-ca -s -c outpost -u '${options.scepUrl}' -N '${options.caFile}' || exit 10`,
      'sleep 1',
      `getcert request -s -c outpost -k '${out}/key.pem' -f '${out}/cert.pem' -N 'CN=${options.cn}' -L '${options.challenge}' -w -v`,
      `getcert list -s > '${out}/list.txt'`,
    ].join('\n'),
  );
  const env = {
    ...process.env,
    HOME: join(sandbox, 'home'),
    CERTMONGER_REQUESTS_DIR: join(sandbox, 'requests'),
    CERTMONGER_CAS_DIR: join(sandbox, 'cas'),
    CERTMONGER_TMPDIR: join(sandbox, 'tmp'),
    CERTMONGER_LOCAL_CA_DIR: join(sandbox, 'local'),
  };
  const result = await run(
    'timeout',
    [
      '90',
      'dbus-run-session',
      '--',
      'certmonger',
      '-s',
      '-n',
      '-d',
      '2',
      '-c',
      `bash ${join(sandbox, 'run.sh')}`,
    ],
    { env, timeoutMs: 100_000 },
  );
  let list = '';
  try {
    list = readFileSync(join(out, 'list.txt'), 'utf8');
  } catch {
    // the script did not get that far: `list` stays empty and the caller's check shows the output
  }
  return { ...result, list, certFile: join(out, 'cert.pem'), keyFile: join(out, 'key.pem') };
}
