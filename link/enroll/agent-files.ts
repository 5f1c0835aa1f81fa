import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { renameDurable, writeDurable, writeFileAtomic } from './atomic-write.js';

/** Where enrollment leaves the link's identity, under the data directory. */
export function linkDir(dataDir: string): string {
  return join(dataDir, 'link');
}

export const LinkFiles = {
  key: 'agent.key',
  cert: 'agent.pem',
  cloudCa: 'cloud-ca.pem',
  state: 'link.json',
  /** A renewed pair waiting to replace the current one (see replaceAgentCredentials). */
  nextKey: 'agent.next.key',
  nextCert: 'agent.next.pem',
  jwks: 'cloud-jwks.json',
} as const;

const MAX_FILE_BYTES = 256 * 1024;

/** DATA/link/link.json: what `outpost run` needs to connect with no flags. */
export const linkStateSchema = z.strictObject({
  applianceId: z.string().min(1).max(128),
  cloudUrl: z.string().url().max(2048),
  roles: z
    .array(z.enum(['gateway', 'connector']))
    .min(1)
    .max(2),
  enrolledAt: z.string().max(64),
});
export type LinkState = z.infer<typeof linkStateSchema>;

export interface AgentCredentials {
  /** PEM private key (PKCS#8). */
  key: string;
  /** PEM: the agent certificate, then its chain. */
  cert: string;
  notBefore: Date;
  notAfter: Date;
}

function readBounded(file: string): string {
  const size = statSync(file).size;
  if (size > MAX_FILE_BYTES) {
    throw new OutpostError(ErrorCodes.config, `${file} is larger than ${MAX_FILE_BYTES} bytes`);
  }
  return readFileSync(file, 'utf8');
}

export function ensureLinkDir(dataDir: string): string {
  const dir = linkDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function isEnrolled(dataDir: string): boolean {
  return existsSync(join(linkDir(dataDir), LinkFiles.state));
}

export function readLinkState(dataDir: string): LinkState | undefined {
  const file = join(linkDir(dataDir), LinkFiles.state);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readBounded(file));
  } catch (cause) {
    throw new OutpostError(ErrorCodes.config, `${file} is not valid JSON; enroll again`, { cause });
  }
  const parsed = linkStateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OutpostError(
      ErrorCodes.config,
      `${file} is invalid (${parsed.error.issues[0]?.message}); enroll again`,
    );
  }
  return parsed.data;
}

/** Validity of the first certificate in a PEM bundle. */
export function certificateValidity(pem: string): { notBefore: Date; notAfter: Date } {
  const cert = new X509Certificate(pem);
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** Whether the leaf certificate of `certPem` carries the public key of `keyPem`. */
export function certificateMatchesKey(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Writes everything enrollment produced; the key 0600, the directory 0700. */
export function writeEnrollment(
  dataDir: string,
  files: { key: string; cert: string; cloudCa?: string; state: LinkState },
): void {
  const dir = ensureLinkDir(dataDir);
  writeFileAtomic(join(dir, LinkFiles.key), files.key, 0o600);
  writeFileAtomic(join(dir, LinkFiles.cert), files.cert, 0o600);
  if (files.cloudCa !== undefined) writeFileAtomic(join(dir, LinkFiles.cloudCa), files.cloudCa, 0o600);
  rmSync(join(dir, LinkFiles.nextKey), { force: true });
  rmSync(join(dir, LinkFiles.nextCert), { force: true });
  writeFileAtomic(join(dir, LinkFiles.state), `${JSON.stringify(files.state, null, 2)}\n`, 0o600);
}

/**
 * Replaces the agent key and certificate after a renewal. Two renames cannot be one atomic step, so
 * the new pair is first written whole beside the old one; completePendingSwap finishes an
 * interrupted replacement on the next load. A crash at any point leaves a matching pair.
 */
export function replaceAgentCredentials(dataDir: string, key: string, cert: string): void {
  const dir = linkDir(dataDir);
  writeDurable(join(dir, LinkFiles.nextKey), key, 0o600);
  writeDurable(join(dir, LinkFiles.nextCert), cert, 0o600);
  completePendingSwap(dataDir);
}

/**
 * Finishes a replacement cut short: both next files present → the new pair was complete, move key
 * then certificate; only the next certificate → the key already moved, move the certificate.
 */
export function completePendingSwap(dataDir: string): void {
  const dir = linkDir(dataDir);
  const nextKey = join(dir, LinkFiles.nextKey);
  const nextCert = join(dir, LinkFiles.nextCert);
  if (existsSync(nextKey) && existsSync(nextCert)) {
    renameDurable(nextKey, join(dir, LinkFiles.key));
    renameDurable(nextCert, join(dir, LinkFiles.cert));
  } else if (existsSync(nextCert)) {
    renameDurable(nextCert, join(dir, LinkFiles.cert));
  } else if (existsSync(nextKey)) {
    // The certificate never made it: the old pair is intact, drop the orphan key.
    rmSync(nextKey, { force: true });
  }
}

/** Loads the agent key and certificate, finishing an interrupted renewal first. */
export function readAgentCredentials(dataDir: string): AgentCredentials {
  completePendingSwap(dataDir);
  const dir = linkDir(dataDir);
  const keyFile = join(dir, LinkFiles.key);
  // A key restored from a backup with wrong permissions is tightened, not refused.
  if ((statSync(keyFile).mode & 0o077) !== 0) chmodSync(keyFile, 0o600);
  const key = readBounded(keyFile);
  const cert = readBounded(join(dir, LinkFiles.cert));
  if (!certificateMatchesKey(cert, key)) {
    throw new OutpostError(ErrorCodes.config, `${dir}: agent.pem does not match agent.key; enroll again`);
  }
  return { key, cert, ...certificateValidity(cert) };
}

/** The enrolled cloud CA bundle, if enrollment was given one. */
export function readEnrolledCloudCa(dataDir: string): string | undefined {
  const file = join(linkDir(dataDir), LinkFiles.cloudCa);
  return existsSync(file) ? readBounded(file) : undefined;
}
