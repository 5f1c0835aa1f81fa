import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunResult, run } from './run.js';

/**
 * strongSwan's `pki` (Debian strongswan-pki 5.9.8; its HTTP fetcher is the curl plugin from
 * libstrongswan-extra-plugins). `pki --scep` defaults to AES-CBC + SHA-256 with PKCS#1 v1.5
 * signatures, derives the transactionID from the public key, signs a RenewalReq with the old
 * certificate (--cert/--key), and polls a PENDING answer every --interval seconds.
 * It loads its TPM plugin on every start and prints a harmless "could not load" line for it.
 */
export interface StrongswanDir {
  dir: string;
  caFile: string;
  raFile: string;
}

/** `pki --scepca`: fetches the CA and RA certificates (DER) into a fresh directory. */
export async function strongswanScepCa(url: string): Promise<StrongswanDir & RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-strongswan-'));
  const caFile = join(dir, 'ca.der');
  const raFile = join(dir, 'ra.der');
  const result = await run('pki', [
    '--scepca',
    '--url',
    url,
    '--caout',
    caFile,
    '--raout',
    raFile,
    '--force',
  ]);
  if (result.code !== 0 || !existsSync(caFile) || !existsSync(raFile)) {
    throw new Error(`pki --scepca failed (${result.code}):\n${result.stdout}${result.stderr}`);
  }
  return { ...result, dir, caFile, raFile };
}

/** `pki --gen`: an RSA key (SCEP key transport needs RSA) in PEM, written to `dir/name`. */
export async function strongswanKey(dir: string, name: string, bits = 2048): Promise<string> {
  const file = join(dir, name);
  const result = await run('sh', ['-c', `pki --gen --type rsa --size ${bits} --outform pem > "${file}"`]);
  if (result.code !== 0) throw new Error(`pki --gen failed (${result.code}):\n${result.stderr}`);
  return file;
}

export interface StrongswanScepOptions {
  keyFile: string;
  /** Output certificate (PEM). */
  certFile: string;
  dn: string;
  san?: string;
  password?: string;
  cipher?: 'aes' | 'des3';
  digest?: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  rsaPadding?: 'pkcs1' | 'pss';
  /** Renewal: the certificate and key that sign the RenewalReq. */
  oldCert?: string;
  oldKey?: string;
  /** Poll interval in seconds while PENDING (pki's default is 60). */
  interval?: number;
  /** Give up polling after this many seconds (pki's default 0 = never). */
  maxPollTime?: number;
  timeoutMs?: number;
}

/** `pki --scep`: one enrollment (or renewal) run; never throws on a non-zero exit. */
export async function strongswanScep(
  url: string,
  ca: StrongswanDir,
  options: StrongswanScepOptions,
): Promise<RunResult & { transactionId?: string }> {
  const args = ['--scep', '--url', url, '--in', options.keyFile, '--dn', options.dn];
  args.push('--cacert-enc', ca.raFile, '--cacert-sig', ca.raFile, '--cacert', ca.caFile);
  args.push('--outform', 'pem');
  if (options.san) args.push('--san', options.san);
  if (options.password !== undefined) args.push('--password', options.password);
  if (options.cipher) args.push('--cipher', options.cipher);
  if (options.digest) args.push('--digest', options.digest);
  if (options.rsaPadding) args.push('--rsa-padding', options.rsaPadding);
  if (options.oldCert) args.push('--cert', options.oldCert);
  if (options.oldKey) args.push('--key', options.oldKey);
  if (options.interval !== undefined) args.push('--interval', String(options.interval));
  if (options.maxPollTime !== undefined) args.push('--maxpolltime', String(options.maxPollTime));
  // pki writes the certificate to stdout: a shell redirect keeps it out of the captured output.
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const result = await run('sh', ['-c', `pki ${quoted} > '${options.certFile}'`], {
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  const transactionId = /transaction ID: ([0-9A-F]+)/.exec(result.stderr)?.[1];
  return { ...result, ...(transactionId ? { transactionId } : {}) };
}

export interface StrongswanEnrollment extends RunResult {
  transactionId?: string;
  keyFile: string;
  certFile: string;
}

/**
 * One `pki --scep` run for the device `cn` (subject "C=US, O=Example, CN=<cn>") with a fresh key
 * in `ca.dir/<cn>.key` unless `keyFile` is given; the certificate goes to `ca.dir/<cn>.pem`.
 */
export async function strongswanEnroll(
  url: string,
  ca: StrongswanDir,
  cn: string,
  options: Partial<StrongswanScepOptions> = {},
): Promise<StrongswanEnrollment> {
  const keyFile = options.keyFile ?? (await strongswanKey(ca.dir, `${cn}.key`));
  const certFile = options.certFile ?? join(ca.dir, `${cn}.pem`);
  const dn = options.dn ?? `C=US, O=Example, CN=${cn}`;
  const result = await strongswanScep(url, ca, { ...options, keyFile, certFile, dn });
  return { ...result, keyFile, certFile };
}
