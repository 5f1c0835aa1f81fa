import { type PkcsIssueResult, pkcsIssuePayload } from '../../link/jobs/connector-jobs.js';
import { issuePkcs, type PkcsIssueDeps } from '../pkcs/issue-pkcs.js';
import type { PkcsKeys } from '../pkcs/pkcs-keys.js';
import { type ConnectorJobHandler, jobHandler } from './job-handler.js';

export type PkcsIssueJobDeps = Omit<PkcsIssueDeps, 'sealer'> & { keys: PkcsKeys };

/** `cert.pkcs.issue` (link/jobs/connector-jobs.ts): server-side key, certificate, PKCS#12 for the device. */
export function pkcsIssueJob(deps: PkcsIssueJobDeps): ConnectorJobHandler<PkcsIssueResult> {
  return jobHandler('cert.pkcs.issue', pkcsIssuePayload, async (jobId, payload) => {
    const issued = await issuePkcs(
      { ...deps, sealer: await deps.keys.sealer() },
      {
        jobId,
        profile: payload.profile,
        subject: payload.subject,
        ...(payload.sans ? { sans: payload.sans } : {}),
        keyAlgorithm: payload.keyAlgorithm,
        protection: payload.protection,
        devicePublicKey: payload.devicePublicKey,
        ...(payload.userId !== undefined ? { userId: payload.userId } : {}),
        ...(payload.deviceId !== undefined ? { deviceId: payload.deviceId } : {}),
      },
    );
    return {
      serialHex: issued.record.serialHex,
      thumbprint: issued.record.thumbprint,
      notAfter: issued.record.notAfter.toISOString(),
      pfx: issued.pfx.toString('base64'),
      encryptedPassword: issued.encryptedPassword.toString('base64'),
      passwordEncryption: issued.passwordEncryption,
    };
  });
}
