import { type PfxImportResult, pfxImportPayload } from '../../link/jobs/connector-jobs.js';
import { importPfx } from '../pkcs/import-pfx.js';
import type { PkcsKeys } from '../pkcs/pkcs-keys.js';
import { type ConnectorJobHandler, jobHandler } from './job-handler.js';

export interface PfxImportJobDeps {
  keys: PkcsKeys;
  clock: () => Date;
}

/** `cert.pfx.import` (link/jobs/connector-jobs.ts): an admin's S/MIME PFX re-wrapped for a device. */
export function pfxImportJob(deps: PfxImportJobDeps): ConnectorJobHandler<PfxImportResult> {
  return jobHandler('cert.pfx.import', pfxImportPayload, async (_jobId, payload) => {
    const imported = importPfx(
      { importKey: await deps.keys.importKey(), clock: deps.clock },
      {
        pfx: Buffer.from(payload.pfx, 'base64'),
        encryptedPassword: Buffer.from(payload.encryptedPassword, 'base64'),
        importKeyId: payload.importKeyId,
        protection: payload.protection,
        devicePublicKey: payload.devicePublicKey,
      },
    );
    return {
      serialHex: imported.certificate.serialHex,
      thumbprint: imported.thumbprint,
      subject: imported.certificate.subject.text,
      notAfter: imported.certificate.notAfter.toISOString(),
      pfx: imported.pfx.toString('base64'),
      encryptedPassword: imported.encryptedPassword.toString('base64'),
      passwordEncryption: imported.passwordEncryption,
    };
  });
}
