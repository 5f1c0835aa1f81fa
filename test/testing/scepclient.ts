import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, run } from './run.js';

export interface ScepClientRun extends RunResult {
  dir: string;
  certFile: string;
  keyFile: string;
}

/**
 * micromdm scepclient 2.1.0. It reuses DIR/csr.pem when present (subject and challenge baked in),
 * so that file is removed before each run; an existing DIR/cert.pem makes it send a RenewalReq
 * signed with that certificate instead of a PKCSReq (shared/peers/README.md).
 */
export async function scepclient(
  url: string,
  options: {
    cn: string;
    challenge?: string;
    dir?: string;
    keySize?: number;
    caFingerprint?: string;
    timeoutMs?: number;
  },
): Promise<ScepClientRun> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'outpost-scepclient-'));
  rmSync(join(dir, 'csr.pem'), { force: true });
  rmSync(join(dir, 'self.pem'), { force: true });
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const args = [
    '-server-url',
    url,
    '-private-key',
    keyFile,
    '-certificate',
    certFile,
    '-cn',
    options.cn,
    '-organization',
    'Example',
    '-ou',
    'Devices',
    '-country',
    'US',
    '-keySize',
    String(options.keySize ?? 2048),
  ];
  if (options.challenge !== undefined) args.push('-challenge', options.challenge);
  if (options.caFingerprint) args.push('-ca-fingerprint', options.caFingerprint);
  // PENDING makes scepclient sleep 30 s and retry forever: the time limit ends such a run.
  const result = await run('scepclient', args, { timeoutMs: options.timeoutMs ?? 20_000, cwd: dir });
  return { ...result, dir, certFile, keyFile };
}
