import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import type { CaBackend } from '../../connector/ca/ca-backend.js';
import { CfsslCa } from '../../connector/ca/cfssl/cfssl-ca.js';
import { ScepUpstreamCa } from '../../connector/ca/scep-upstream/scep-upstream-ca.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { Readiness } from '../admin/readiness.js';
import type { OutpostConfig } from '../config/schema.js';

const MAX_CHALLENGE_FILE_BYTES = 1024;

/** A secret file: `echo secret > file` adds one newline, anything else is the secret. */
export async function readSecretFile(path: string, key: string): Promise<string> {
  const data = await readFile(path).catch((cause: unknown) => {
    throw new OutpostError(ErrorCodes.config, `${key}: cannot read ${path}`, { cause });
  });
  if (data.length > MAX_CHALLENGE_FILE_BYTES) {
    throw new OutpostError(
      ErrorCodes.config,
      `${key}: the file is larger than ${MAX_CHALLENGE_FILE_BYTES} bytes`,
    );
  }
  const text = data.toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new OutpostError(ErrorCodes.config, `${key}: the file is empty`);
  return text;
}

/**
 * The CA backend `connector.ca.type` names. The built-in CA is opened in every case: it stays the
 * issuer of the SCEP RA certificate (RA signing never leaves the appliance) and of the gateway's
 * TLS certificate; with `builtin` it is also the backend. Remote backends keep their state (RA
 * client key, cached CA certificates) in their own folder of the data directory.
 */
export async function openCaBackend(config: OutpostConfig, builtin: BuiltinCa): Promise<CaBackend> {
  const ca = config.connector.ca;
  switch (ca.type) {
    case 'builtin':
      return builtin;
    case 'cfssl':
      return CfsslCa.open({
        url: ca.url,
        timeoutMs: ca.timeoutMs,
        dir: join(config.dataDir, 'cfssl'),
        ...(ca.authKeyFile ? { authKeyFile: ca.authKeyFile } : {}),
        ...(ca.profile ? { profile: ca.profile } : {}),
      });
    case 'scep-upstream':
      return ScepUpstreamCa.open({
        url: ca.url,
        dir: join(config.dataDir, 'scep-upstream'),
        timeoutMs: ca.timeoutMs,
        pollIntervalSeconds: ca.pollIntervalSeconds,
        pollTimeoutSeconds: ca.pollTimeoutSeconds,
        ...(ca.caFingerprint ? { caFingerprint: ca.caFingerprint } : {}),
        ...(ca.challengeFile
          ? { challenge: await readSecretFile(ca.challengeFile, 'connector.ca.challengeFile') }
          : {}),
      });
  }
}

/**
 * /readyz shows whether the issuing CA answers (`ca`), without counting it against readiness: a
 * remote CA that is down stops new certificates, not GetCACert, CRLs, renewals already issued
 * or the gateway. `core` is read on each check because reconfiguration swaps the core.
 */
export function registerCaHealth(readiness: Readiness, core: () => { backend: CaBackend }): void {
  readiness.register(
    'ca',
    async () => {
      const { backend } = core();
      const health = backend.health ? await backend.health() : { ok: true };
      return { ...health, detail: health.detail ? `${backend.type}: ${health.detail}` : backend.type };
    },
    { critical: false },
  );
}
