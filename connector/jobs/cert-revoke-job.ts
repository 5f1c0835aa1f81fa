import { type CertRevokeResult, certRevokePayload } from '../../link/jobs/connector-jobs.js';
import { type RevokeDeps, revokeCertificate } from '../pkcs/revoke-certificate.js';
import { type ConnectorJobHandler, jobHandler } from './job-handler.js';

/** `cert.revoke` (link/jobs/connector-jobs.ts): revoke by serial (and issuer); the CRL follows. */
export function certRevokeJob(deps: RevokeDeps): ConnectorJobHandler<CertRevokeResult> {
  return jobHandler('cert.revoke', certRevokePayload, async (_jobId, payload) => {
    const record = await revokeCertificate(deps, {
      serialHex: payload.serialHex,
      ...(payload.issuer !== undefined ? { issuer: payload.issuer } : {}),
      ...(payload.reason !== undefined ? { reason: payload.reason } : {}),
    });
    return { serialHex: record.serialHex, revokedAt: (record.revokedAt ?? new Date()).toISOString() };
  });
}
