import { ErrorCodes, isOutpostError } from '../../core/errors.js';
import { type CertRevokeResult, certRevokePayload } from '../../link/jobs/connector-jobs.js';
import type { JobCheckpoints } from '../pkcs/ports.js';
import type { Inventory } from '../ports.js';
import { type RevokeDeps, revokeCertificate } from '../revocation/revoke-certificate.js';
import { type ConnectorJobHandler, jobHandler } from './job-handler.js';

export interface RevokeJobDeps extends RevokeDeps {
  inventory: Pick<Inventory, 'bySerial'>;
  checkpoints: JobCheckpoints;
}

/** What a revocation job notes in its checkpoint before it asks the CA. */
const STARTED = Buffer.from('cert.revoke:started');

/**
 * `cert.revoke` (link/jobs/connector-jobs.ts): revoke by serial (and issuer); the CRL follows.
 * Exactly once across a crash: the job checkpoints that it started before revoking, so when the
 * process died after the CA revoked but before the result was journaled, the re-run's "already
 * revoked" is this job's own earlier success and is reported as done, not as a conflict.
 */
export function certRevokeJob(deps: RevokeJobDeps): ConnectorJobHandler<CertRevokeResult> {
  return jobHandler('cert.revoke', certRevokePayload, async (jobId, payload) => {
    const rerun = deps.checkpoints.get(jobId)?.equals(STARTED) ?? false;
    deps.checkpoints.put(jobId, STARTED);
    try {
      const record = await revokeCertificate(deps, {
        serialHex: payload.serialHex,
        ...(payload.issuer !== undefined ? { issuer: payload.issuer } : {}),
        ...(payload.reason !== undefined ? { reason: payload.reason } : {}),
      });
      return { serialHex: record.serialHex, revokedAt: (record.revokedAt ?? new Date()).toISOString() };
    } catch (e) {
      if (!rerun || !isOutpostError(e) || e.code !== ErrorCodes.conflict) throw e;
      const record = await deps.inventory.bySerial(payload.serialHex.replace(/:/g, '').toLowerCase());
      if (record?.status !== 'revoked' || !record.revokedAt) throw e;
      return { serialHex: record.serialHex, revokedAt: record.revokedAt.toISOString() };
    }
  });
}
